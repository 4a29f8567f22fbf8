import { schemaAt } from '../runtime/schema';
import { parseDuration } from '../runtime/units';
import type { RuntimeValues } from '../runtime/values';
import { EngineError } from './errors';

/**
 * Every deadline the engines keep (docs/contracts.md, "Deadlines"): the runtime file's `timeouts`, the harness's
 * own deadline and our backstop behind it, a runtime's start apart from the DAG file's code, our cache step's.
 */

/** The host's deadline for a parse, a run or a runtime's start, in milliseconds; the schema's default when no layer set it. */
export function deadlineOf(values: RuntimeValues, work: 'parse' | 'run' | 'start'): number {
  return parseDuration(values.timeouts?.[work]) ?? parseDuration(schemaAt(['timeouts', work])?.default)!;
}

/** Our own cache step, `airflow db migrate` of a fresh runtime: tens of seconds, minutes on a busy machine. */
export const PREPARE_CACHE_MS = 10 * 60_000;

/** A build step of a runtime's image (apt-get, pip) that has not ended in an hour is stuck, not slow. */
export const BUILD_STEP_MS = 60 * 60_000;

/** The harness kills a DAG file's child this long after its deadline, then answers with a timed-out result. */
export const HARNESS_KILL_GRACE_MS = 2_000;
/** Our own deadline is a backstop for a harness that stopped answering: it comes after the harness's. */
export const BACKSTOP_MARGIN_MS = 3_000;

/**
 * Before it forks a request's child the warm harness may pre-import what the file imports: a probe fork with a 20 s
 * deadline (preimport.PROBE_SECONDS), then its own import of what the probe took. The file's own deadline
 * starts in the child, after that; the backstop allows for it.
 */
export const PRE_IMPORT_ALLOWANCE_MS = 45_000;

/**
 * A warm request's backstop: the harness enforces the request's timeout itself (a watchdog that reports the stuck
 * line, then a kill of the child at timeout + HARNESS_KILL_GRACE_MS) and answers with a timed-out result, so
 * ours comes after the harness's, pre-import included.
 */
export function warmBackstopMs(deadlineMs: number, timeoutSeconds: number): number {
  return Math.max(deadlineMs, timeoutSeconds * 1000 + HARNESS_KILL_GRACE_MS) + BACKSTOP_MARGIN_MS + PRE_IMPORT_ALLOWANCE_MS;
}

/** The message of a runtime that did not start in time: an infrastructure problem, not the DAG file's. */
export function startTimeout(startMs: number, what: string): EngineError {
  const seconds = startMs < 10_000 ? (startMs / 1000).toFixed(1) : String(Math.round(startMs / 1000));
  return new EngineError('start-timeout', `the runtime did not start within ${seconds} s (${what})`,
    'the machine may be busy: raise timeouts.start in the runtime file (or the airflowRuntime.timeouts.start setting), or parse fewer files at once (--jobs)');
}

/** The deadline of one harness job: told when the DAG file's code starts, cleared when the job ends. */
export interface JobDeadline {
  started(): void;
  clear(): void;
}

/**
 * A parse's two deadlines, as Airflow has them: starting the runtime has its own budget; the DAG file's
 * budget starts when the harness says the file started (`started()`). The file's deadline is the harness's
 * to enforce (it answers with an import error at the stuck line), so ours comes after it, as a backstop.
 */
export class StagedDeadline implements JobDeadline {
  private timer?: NodeJS.Timeout;
  private stage: 'start' | 'work' = 'start';

  constructor(private readonly startMs: number, private readonly workMs: number, private readonly onExpire: (error: EngineError) => void, private readonly what: string) {
    this.timer = setTimeout(() => this.onExpire(startTimeout(this.startMs, this.what)), startMs);
  }

  started(): void {
    if (this.stage !== 'start') return;
    this.stage = 'work';
    clearTimeout(this.timer);
    const backstop = this.workMs + HARNESS_KILL_GRACE_MS + BACKSTOP_MARGIN_MS;
    this.timer = setTimeout(() => this.onExpire(new EngineError('timeout',
      `the harness did not answer within ${Math.round(backstop / 1000)} s of the DAG file's start (its deadline is ${Math.round(this.workMs / 1000)} s); it was killed`,
      'raise timeouts.parse in the runtime file, or find what hangs')), backstop);
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

/** One deadline for the whole job (a task run); `killed` says what was stopped, for the message. */
export function singleDeadline(ms: number, stop: (error: EngineError) => void, killed?: string, hint = 'raise timeouts.run in the runtime file, or find what hangs'): JobDeadline {
  const timer = setTimeout(() => stop(new EngineError('timeout', `stopped after ${Math.round(ms / 1000)} s (the runtime's timeout)${killed ? `; ${killed}` : ''}`, hint)), ms);
  return { started: () => undefined, clear: () => clearTimeout(timer) };
}
