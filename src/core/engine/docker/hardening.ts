import type Docker from 'dockerode';
import { parseSize } from '../../runtime/units';
import type { RuntimeValues } from '../../runtime/values';

/**
 * Every container we start: no privilege gained through setuid binaries, every capability dropped but
 * DAC_OVERRIDE (a runtime running as root must read DAG files a umask of 077 left readable by their owner only;
 * parse and run of Airflow 2 and 3 need nothing else, tried with none), a bound on processes (a fork bomb in a
 * DAG file stops there). The DAG root and the harness are read-only mounts.
 */
const HARDENING = {
  SecurityOpt: ['no-new-privileges'],
  CapDrop: ['ALL'],
  CapAdd: ['DAC_OVERRIDE'],
  PidsLimit: 1024,
} as const satisfies Docker.HostConfig;

/** Without `resources.memory`: enough for a DAG parse, a warm runtime's children or a task run; a runaway stops here. */
export const DEFAULT_MEMORY = 4 * 1024 * 1024 * 1024;

/** The part of a HostConfig that hardens a runtime's container; the fields `export` writes for the task launcher. */
export interface HardenedHostConfig {
  SecurityOpt: string[];
  CapDrop: string[];
  CapAdd: string[];
  PidsLimit: number;
  Tmpfs: Record<string, string>;
  Memory: number;
  MemorySwap: number;
  NanoCpus?: number;
}

/**
 * The one rule for a runtime's container, wherever it runs (a parse, a task run, a task launched in production):
 * the hardening above, memory and CPUs from `resources` (no swap beyond memory), /tmp in memory and bounded.
 */
export function hardenedHostConfig(resources: RuntimeValues['resources']): HardenedHostConfig {
  const memory = parseSize(resources?.memory) ?? DEFAULT_MEMORY;
  return {
    SecurityOpt: [...HARDENING.SecurityOpt],
    CapDrop: [...HARDENING.CapDrop],
    CapAdd: [...HARDENING.CapAdd],
    PidsLimit: HARDENING.PidsLimit,
    // /tmp in memory, bounded: a DAG file writing gigabytes there fills the container's share, not the host's disk
    Tmpfs: { '/tmp': `rw,exec,nosuid,nodev,mode=1777,size=${Math.floor(memory / 2)}` },
    Memory: memory,
    MemorySwap: memory,
    ...(resources?.cpus ? { NanoCpus: Math.round(resources.cpus * 1e9) } : {}),
  };
}
