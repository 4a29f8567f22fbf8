import * as os from 'node:os';

/** What one parse in flight costs at most: a cold runtime importing Airflow 3 (measured: 250-400 MB resident). */
const MEMORY_PER_JOB = 512 * 1024 * 1024;
/** More than this gains nothing on the machines we know: the harness parses at most 4 files at once per runtime. */
const MAX_JOBS = 8;

/**
 * Files in flight at once, when the user did not say: one per core, no more than the memory free now can hold,
 * at least one. Warm runtimes queue what they cannot take, so this only bounds what runs at the same moment.
 */
export function defaultJobs(cores = os.availableParallelism(), freeBytes = os.freemem()): number {
  return Math.max(1, Math.min(MAX_JOBS, cores, Math.floor(freeBytes / MEMORY_PER_JOB)));
}
