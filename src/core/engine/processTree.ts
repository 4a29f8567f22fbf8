import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { ServeChannel } from './warm';
import { readdirSync, readFileSync } from 'node:fs';
import { EngineError } from './errors';
import { harnessEvent, type HarnessEvent, withoutEvents } from '../harness/harnessEvents';
import { type JobDeadline, singleDeadline, StagedDeadline } from './deadlines';
import { lineSplitter } from './lineSplitter';

/** Every descendant of `rootPid` (Linux /proc), deepest last; empty elsewhere. */
export function descendants(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const queue = [...(children.get(rootPid) ?? [])];
  while (queue.length) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Kills a process, its process group and every descendant found, so nothing it started lives on. */
export function killTree(pid: number): void {
  const all = [pid, ...descendants(pid)];
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // not a group leader, or gone
  }
  for (const each of all) {
    try {
      process.kill(each, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

export interface ProcessOptions {
  env: Record<string, string>;
  cwd?: string;
  deadlineMs?: number;
  /** A parse: starting (Airflow's import) has this budget, and `deadlineMs` starts at the harness's `started` event. */
  startMs?: number;
  signal?: AbortSignal;
  /** Each output line as it comes. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Harness events other than `started` and `error` (`debug-listening`). */
  onEvent?: (event: HarnessEvent) => void;
  /** How much of the output to keep for error messages (the tail), in characters. */
  keep?: number;
}

export interface ProcessOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The harness said the DAG file's code started. */
  started: boolean;
  /** The last `keep` characters of stdout and stderr together. */
  tail: string;
  /** The harness's own account of why it failed, when it gave one. */
  failure?: HarnessEvent;
}

/**
 * Runs a command in its own process group. Past the deadline or on abort, the whole tree is killed and an
 * EngineError ('timeout' or 'cancelled') is thrown. Output is streamed by line and only its tail is kept.
 */
export function runProcess(command: string, args: string[], options: ProcessOptions): Promise<ProcessOutcome> {
  const keep = options.keep ?? 16_384;
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(new EngineError('cancelled', 'cancelled before it started'));
    // stdin is a pipe we never write to: it closes when we end, even by kill -9, and the harness then ends too
    const child = spawn(command, args, { env: options.env, cwd: options.cwd, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.on('error', () => undefined);
    let tail = '';
    let stopped: EngineError | undefined;
    let failure: HarnessEvent | undefined;
    let started = false;
    const splitters = {
      stdout: lineSplitter((line) => options.onLine?.(line, 'stdout'), keep),
      stderr: lineSplitter((line) => {
        const event = harnessEvent(line);
        if (event?.event === 'started') {
          started = true;
          deadline?.started();
        } else if (event?.event === 'error') failure = event;
        else if (event) options.onEvent?.(event);
        else options.onLine?.(line, 'stderr');
      }, keep),
    };
    const take = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      tail = (tail + text).slice(-keep);
      splitters[stream].push(text);
    };
    child.stdout.on('data', take('stdout'));
    child.stderr.on('data', take('stderr'));
    const stop = (error: EngineError) => {
      if (stopped || child.pid === undefined) return;
      stopped = error;
      killTree(child.pid);
    };
    const deadline = deadlineFor(options, stop);
    const onAbort = () => stop(new EngineError('cancelled', 'cancelled'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error) => {
      deadline?.clear();
      options.signal?.removeEventListener('abort', onAbort);
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      reject(new EngineError('interpreter-missing', missing ? `cannot run ${command}: not found` : `cannot run ${command}: ${error.message}`,
        missing ? 'set local.python in the runtime file or the airflowRuntime.local.python setting' : undefined));
    });
    child.on('close', (code, signal) => {
      deadline?.clear();
      options.signal?.removeEventListener('abort', onAbort);
      if (child.pid !== undefined) killTree(child.pid); // daemons the command left behind
      splitters.stdout.end();
      splitters.stderr.end();
      if (stopped) reject(stopped);
      else resolve({ code, signal, started, tail: withoutEvents(tail), failure });
    });
  });
}

/** A parse's two deadlines (start, then the file's), a run's one, or none. */
function deadlineFor(options: ProcessOptions, stop: (error: EngineError) => void): JobDeadline | undefined {
  if (options.startMs !== undefined && options.deadlineMs) return new StagedDeadline(options.startMs, options.deadlineMs, stop, "Airflow's import");
  return options.deadlineMs ? singleDeadline(options.deadlineMs, stop) : undefined;
}

/** A long-lived process as a line channel (for the warm harness); stopping it kills its whole tree. */
export function processChannel(command: string, args: string[], env: Record<string, string>, cwd?: string): ServeChannel {
  const child = spawn(command, args, { env, cwd, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let tail = '';
  child.stderr.on('data', (chunk: Buffer) => { tail = (tail + chunk.toString('utf8')).slice(-16_384); });
  const ended = new Promise<void>((resolve) => child.on('close', () => resolve()));
  child.on('error', (error) => { tail += `\ncannot run ${command}: ${error.message}`; });
  child.stdin.on('error', () => undefined); // a dead server is reported through `ended`
  return {
    send: (line) => child.stdin.write(`${line}\n`),
    onLine: (listener) => createInterface({ input: child.stdout }).on('line', listener),
    ended,
    tail: () => tail,
    async stop() {
      if (child.pid !== undefined && child.exitCode === null) killTree(child.pid);
      await ended;
    },
  };
}
