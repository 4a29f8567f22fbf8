import { Emitter } from './emitter';

/** Airflow's task instance states the views draw (anything else Airflow says is shown as it comes). */
export type TaskRunState = 'queued' | 'running' | 'success' | 'failed' | 'skipped' | 'upstream_failed' | 'cancelled' | (string & {});

export interface TaskStateEntry {
  state: TaskRunState;
  /** How long it ran, once it ended. */
  durationMs?: number;
  /** When it started running (ms since the epoch), while it runs. */
  startedAt?: number;
}

/** The key of a DAG's states: one DAG of one file. */
export function dagKey(file: string, dagId: string): string {
  return `${file}::${dagId}`;
}

/**
 * What the last run of each DAG said of each task, as it goes: task runs from the gutter and whole-DAG runs
 * both report here, and the graph view draws it. A new whole-DAG run starts its DAG from nothing.
 */
export class RunStates {
  private readonly dags = new Map<string, Map<string, TaskStateEntry>>();
  private readonly changed = new Emitter<string>();
  /** Fires the dagKey whose states changed. */
  readonly onDidChange = this.changed.event;

  of(file: string, dagId: string): ReadonlyMap<string, TaskStateEntry> {
    return this.dags.get(dagKey(file, dagId)) ?? new Map();
  }

  /** A whole-DAG run begins: every task is queued. */
  beginDagRun(file: string, dagId: string, taskIds: readonly string[]): void {
    this.dags.set(dagKey(file, dagId), new Map(taskIds.map((id) => [id, { state: 'queued' }])));
    this.changed.fire(dagKey(file, dagId));
  }

  /** A task's state changed (a mapped task's indexes are told one by one: the last one told is drawn). */
  set(file: string, dagId: string, taskId: string, state: TaskRunState, durationMs?: number): void {
    const key = dagKey(file, dagId);
    let states = this.dags.get(key);
    if (!states) this.dags.set(key, (states = new Map()));
    states.set(taskId, state === 'running' ? { state, startedAt: Date.now() } : { state, durationMs });
    this.changed.fire(key);
  }

  dispose(): void {
    this.changed.dispose();
  }
}
