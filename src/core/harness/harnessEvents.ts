import { EngineError, type EngineErrorCode } from '../engine/errors';
import { startTimeout } from '../engine/deadlines';
import type { TaskStateEvent } from '../engine/types';

/** A line on the harness's stderr that is an event for us, not output (see the harness's env.emit_event). */
export const EVENT_MARKER = '@@airflow-runtime-event';

/**
 * What the harness tells the engine beside its output. Its one definition is media/harness-event.schema.json (which
 * kind carries which fields): this type and the harness's real events are checked against it. Every field but
 * `event` is optional here: an event is read from a runtime's output, so a reader checks what it uses.
 */
export interface HarnessEvent {
  /** Which event: what each means and carries is in the schema. */
  event: 'started' | 'error' | 'debug-listening' | 'debug-ended' | 'task' | 'rendered' | 'render-failed' | 'import-error';
  code?: string;
  message?: string;
  /** `debug-listening`: debugpy's port in the runtime. */
  port?: number;
  taskId?: string;
  mapIndex?: number;
  state?: string;
  durationMs?: number;
  final?: boolean;
  field?: string;
  text?: string;
  /** This piece ends its field's value. */
  last?: boolean;
  renderer?: string | null;
  pythonType?: string;
  template?: string;
  file?: string;
  line?: number;
  column?: number;
}

/** A `task` event as the engines hand it on. */
export function taskStateOf(event: HarnessEvent): TaskStateEvent | undefined {
  if (event.event !== 'task' || typeof event.taskId !== 'string' || typeof event.state !== 'string') return undefined;
  return { taskId: event.taskId, mapIndex: event.mapIndex ?? -1, state: event.state, durationMs: event.durationMs, final: event.final };
}

export function harnessEvent(line: string): HarnessEvent | undefined {
  const at = line.indexOf(EVENT_MARKER);
  if (at < 0) return undefined;
  try {
    const parsed = JSON.parse(line.slice(at + EVENT_MARKER.length)) as HarnessEvent;
    return typeof parsed.event === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Output for people: the events taken out. */
export function withoutEvents(text: string): string {
  return text.split('\n').filter((line) => !line.includes(EVENT_MARKER)).join('\n');
}

/** How a harness process ended, as an engine saw it. */
export interface HarnessEnd {
  /** Exit code; null when a signal ended it (local). In a container, 128 + the signal. */
  code: number | null;
  signal?: NodeJS.Signals | null;
  /** The harness's own account of its failure (an `error` event), when it gave one. */
  failure?: HarnessEvent;
  /** The harness said the DAG file's code had started (a `started` event). */
  started?: boolean;
  tail: string;
}

const CODE_OF_FAILURE: Record<string, EngineErrorCode> = {
  'start-timeout': 'start-timeout', 'no-airflow': 'interpreter-missing', 'bad-runtime': 'bad-runtime',
  'cache-unprepared': 'cache-unprepared', 'cache-tampered': 'cache-unprepared', 'mapped-needs-index': 'map-index',
};

const HINT_OF_FAILURE: Record<string, string> = {
  'no-airflow': 'use an interpreter or image with Airflow 2.9+ or 3.x (see `airflow-runtime doctor`)',
  'mapped-needs-index': 'run it with --map-index N (in the editor, the run asks which); its upstream tasks run first, in the same runtime',
};

/**
 * The one account of a harness that did not do its job, for both engines and every verb: the harness's own
 * `{code, message}` when it gave one, else what the way it ended tells (a signal while the DAG file's code
 * ran is the DAG file's doing, not a missing Airflow), with the output's tail only when there is nothing better.
 */
export function harnessFailure(end: HarnessEnd, context: { what: string; runtime: string; startMs?: number; starting?: string }): EngineError {
  const { failure } = end;
  if (failure?.code === 'start-timeout' && context.startMs !== undefined) return startTimeout(context.startMs, context.starting ?? "Airflow's import");
  if (failure?.message) {
    const code = CODE_OF_FAILURE[failure.code ?? ''] ?? 'harness-failed';
    return new EngineError(code, `${context.what}: ${failure.message.trim()}`, HINT_OF_FAILURE[failure.code ?? '']);
  }
  const signal = end.signal ?? (end.code !== null && end.code > 128 && end.code < 160 ? signalName(end.code - 128) : undefined);
  if (signal && end.started) {
    return new EngineError('harness-failed', `${context.what}: the harness was killed (${signal}) while the DAG file's code ran; nothing of it is left running`,
      "a DAG file's code must not kill its own process or its parent (os.kill(os.getppid(), ...)); find what does in its top-level code");
  }
  const tail = end.tail.trim().slice(-3000);
  const how = signal ? `killed by ${signal}` : `exit ${end.code}`;
  return new EngineError('harness-failed', `${context.what} (${how})${tail ? `:\n${tail}` : ''}`,
    end.code === 127 ? `${context.runtime} has no python on PATH: is it an Airflow image?` : `check that ${context.runtime} has Airflow 2.9+ or 3.x (airflow-runtime doctor)`);
}

function signalName(number: number): string {
  const names: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 15: 'SIGTERM' };
  return names[number] ?? `signal ${number}`;
}
