import type { Problem } from '../problems';

/** Why an engine could not do its job: infrastructure or configuration, never the user's DAG (exit code 2). */
export type EngineErrorCode =
  | 'engine-unreachable'
  | 'image-missing'
  | 'image-pull-failed'
  | 'image-build-failed'
  | 'image-push-failed'
  | 'interpreter-missing'
  | 'venv-build-failed'
  | 'harness-failed'
  | 'out-of-memory'
  | 'timeout'
  | 'start-timeout'
  | 'cancelled'
  | 'bad-runtime'
  /** A run of a mapped task that names no map index, or one it does not have (a usage error). */
  | 'map-index'
  /** The runtime cache's template database is missing or not the one our own step made: it is made again. */
  | 'cache-unprepared'
  /** A warm runtime ended under a request it had accepted (the engines retry it in a runtime of its own). */
  | 'runtime-ended'
  /** Not foreseen: a bug of ours, or a failure of the machine we have no words for. */
  | 'internal';

export class EngineError extends Error {
  /** `problems`: where in the user's files the failure is (a requirement's line), for the editor and `path:line` output. */
  constructor(readonly code: EngineErrorCode, message: string, readonly hint?: string, readonly problems?: Problem[]) {
    super(message);
  }

  /** The message and what to do, for a person. */
  describe(): string {
    return whatToDoText(this);
  }
}

/**
 * Anything thrown, as an EngineError: ours as they are, the rest as `internal` with its message (the stack
 * only when AIRFLOW_RUNTIME_DEBUG is set: a person needs what happened and what to do, not our call stack).
 */
export function engineErrorOf(error: unknown): EngineError {
  if (error instanceof EngineError) return error;
  const errno = error as NodeJS.ErrnoException;
  const message = error instanceof Error ? error.message : String(error);
  const debug = process.env.AIRFLOW_RUNTIME_DEBUG && error instanceof Error && error.stack ? `\n${error.stack}` : '';
  const wrapped = new EngineError('internal', `unexpected failure: ${message}${debug}`,
    errno?.code ? undefined : 'run again with AIRFLOW_RUNTIME_DEBUG=1 for details, and report it if it persists');
  return wrapped;
}

export function isRuntimeEnded(error: unknown): boolean {
  return error instanceof EngineError && error.code === 'runtime-ended';
}

/** The one way an engine failure is told to a person, in the terminal and in the editor. */
export function describeFailure(error: unknown): string {
  return engineErrorOf(error).describe();
}

/** Whether work ended because it was cancelled: its signal aborted, or the engine said so. */
export function isCancelled(error: unknown, signal?: AbortSignal): boolean {
  return signal?.aborted === true || (error instanceof EngineError && error.code === 'cancelled');
}

/**
 * A failure and what to do about it, in the form its place needs: `lines` for logs and terminals, `paragraphs` for
 * tooltips and details, `inline` for a one-line diagnostic.
 */
export function whatToDoText(failure: { message: string; hint?: string }, form: 'lines' | 'paragraphs' | 'inline' = 'lines'): string {
  if (!failure.hint) return failure.message;
  if (form === 'paragraphs') return `${failure.message}\n\nWhat to do: ${failure.hint}`;
  if (form === 'inline') return `${failure.message} (what to do: ${failure.hint})`;
  return `${failure.message}\n  what to do: ${failure.hint}`;
}
