import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { harnessEvent, type HarnessEvent, withoutEvents } from '../../harness/harnessEvents';
import { type JobDeadline, singleDeadline, StagedDeadline } from '../deadlines';
import { EngineError } from '../errors';
import { lineSplitter } from '../lineSplitter';
import type { ServeChannel } from '../warm';

/** What a one-off container is for, beside its spec: its deadlines, what to tell whom, and the steps around it. */
export interface ContainerJob<T> {
  signal?: AbortSignal;
  /** A parse: the runtime's start and the DAG file have their own deadlines (deadlineMs is the file's). */
  startMs?: number;
  deadlineMs: number;
  /** `resources.memory` as the runtime file says it, for the out-of-memory message. */
  memory?: string | number;
  /** What to do when the deadline or the memory limit stopped it, where not the runtime file's timeouts and imports (an image build). */
  hints?: { deadline: string; outOfMemory: string };
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** debugpy listens in the container (a `debug-listening` event). */
  onDebugListening?: (container: Docker.Container) => void;
  /** The debugged program ended by itself (a `debug-ended` event). */
  onDebugEnded?: () => void;
  /** The harness's other events (a whole-DAG run's `task` states). */
  onEvent?: (event: HarnessEvent) => void;
  /** After create, before start: copy mode puts the DAG tree and the harness in here. */
  prepare?: (container: Docker.Container) => Promise<void>;
  /** After the container exited, before it is removed: copy mode takes the result file out here. */
  collect?: (container: Docker.Container) => Promise<T>;
}

/** How a container job ended: its exit code, its output's tail, what `collect` took out, the harness's account. */
export interface ContainerOutcome<T> {
  exitCode: number;
  tail: string;
  collected?: T;
  /** The harness's own account of its failure (an `error` event), when it gave one. */
  failure?: HarnessEvent;
  /** The harness said the DAG file's code had started (a `started` event). */
  started: boolean;
}

/** How much of the output is kept for error messages (the tail), in characters; also the longest line. */
const KEEP = 16_384;

interface JobState {
  tail: string;
  failure?: HarnessEvent;
  started: boolean;
  deadline?: JobDeadline;
}

/**
 * One container from `spec`: create, attach and demultiplex, wait (next-exit), start; kill on deadline or abort;
 * remove in finally. A parse (startMs set) has two deadlines: the runtime's start, then the DAG file's from the
 * harness's `started` event on. Throws the deadline's or the abort's EngineError, or `out-of-memory`.
 */
export async function runContainerJob<T>(docker: Docker, spec: Docker.ContainerCreateOptions, job: ContainerJob<T>): Promise<ContainerOutcome<T>> {
  const container = await docker.createContainer(spec);
  const state: JobState = { tail: '', started: false };
  let stopped: EngineError | undefined;
  try {
    const stream = await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
    stream.on('error', () => undefined); // the container's end is reported by its wait
    followOutput(docker, stream, container, job, state);
    const waiting = container.wait({ condition: 'next-exit' }) as Promise<{ StatusCode: number }>;
    waiting.catch(() => undefined); // a container that never starts is removed, and its wait fails
    await job.prepare?.(container);
    const stop = (error: EngineError) => {
      stopped ??= error;
      container.kill().catch(() => undefined);
    };
    const deadline = job.startMs !== undefined
      ? new StagedDeadline(job.startMs, job.deadlineMs, stop, "the container's start and Airflow's import")
      : singleDeadline(job.deadlineMs, stop, 'the container was killed', job.hints?.deadline);
    state.deadline = deadline;
    await container.start();
    const status = await untilExit(waiting, deadline, job.signal, () => stop(new EngineError('cancelled', 'cancelled; the container was killed')));
    (stream as NodeJS.ReadWriteStream & { destroy?: () => void }).destroy?.();
    if (stopped) throw stopped;
    if ((await container.inspect()).State.OOMKilled) {
      throw new EngineError('out-of-memory', `the runtime ran out of memory (limit ${job.memory ?? '4g, the default'}) and was killed`, job.hints?.outOfMemory ?? 'raise resources.memory in the runtime file, or make the DAG file import less at parse time');
    }
    return { exitCode: status.StatusCode, tail: withoutEvents(state.tail), collected: await job.collect?.(container), failure: state.failure, started: state.started };
  } finally {
    state.deadline?.clear();
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** The container's output, demultiplexed: harness events to the job (and the deadline), other lines to `onLine`. */
function followOutput<T>(docker: Docker, stream: NodeJS.ReadableStream, container: Docker.Container, job: ContainerJob<T>, state: JobState): void {
  const outputs = { stdout: new PassThrough(), stderr: new PassThrough() };
  docker.modem.demuxStream(stream, outputs.stdout, outputs.stderr);
  for (const name of ['stdout', 'stderr'] as const) {
    const splitter = lineSplitter((line) => {
      const event = name === 'stderr' ? harnessEvent(line) : undefined;
      if (event?.event === 'started') {
        state.started = true;
        state.deadline?.started();
      } else if (event?.event === 'error') state.failure = event;
      else if (event?.event === 'debug-listening') job.onDebugListening?.(container);
      else if (event?.event === 'debug-ended') job.onDebugEnded?.();
      else if (event) job.onEvent?.(event);
      else job.onLine?.(line, name);
    }, KEEP);
    outputs[name].on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      state.tail = (state.tail + text).slice(-KEEP);
      splitter.push(text);
    });
    outputs[name].on('end', () => splitter.end());
  }
}

/** The container's exit; the deadline cleared and the abort no longer listened to, however it ends. */
async function untilExit(waiting: Promise<{ StatusCode: number }>, deadline: JobDeadline, signal: AbortSignal | undefined, onAbort: () => void): Promise<{ StatusCode: number }> {
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  try {
    return await waiting;
  } finally {
    deadline.clear();
    signal?.removeEventListener('abort', onAbort);
  }
}

/** A warm harness (`serve`) in a long-lived container from `spec`, talked to over its attached stdin and stdout. */
export async function serveContainer(docker: Docker, spec: Docker.ContainerCreateOptions, prepare?: (container: Docker.Container) => Promise<void>): Promise<{ channel: ServeChannel; container: Docker.Container }> {
  // Removed by Docker when it exits: a warm container whose owner died ends (stdin closed) and is gone.
  const container = await docker.createContainer({ ...spec, HostConfig: { ...spec.HostConfig, AutoRemove: true } });
  try {
    await prepare?.(container);
  } catch (error) {
    await container.remove({ force: true }).catch(() => undefined);
    throw error;
  }
  const stream = await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  docker.modem.demuxStream(stream, stdout, stderr);
  let tail = '';
  stderr.on('data', (chunk: Buffer) => { tail = (tail + chunk.toString('utf8')).slice(-KEEP); });
  const ended = (container.wait({ condition: 'next-exit' }) as Promise<unknown>).then(() => undefined, () => undefined);
  try {
    await container.start();
  } catch (error) {
    await container.remove({ force: true }).catch(() => undefined);
    throw error;
  }
  const channel: ServeChannel = {
    send: (line) => stream.write(`${line}\n`),
    onLine: (listener) => createInterface({ input: stdout }).on('line', listener),
    ended,
    tail: () => tail,
    async stop() {
      await container.remove({ force: true }).catch(() => undefined);
      await ended;
    },
  };
  return { channel, container };
}
