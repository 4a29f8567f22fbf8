import { Emitter } from './emitter';
import { dagKey } from './itemKeys';

/** Airflow's task instance states the views draw (anything else Airflow says is shown as it comes). */
export type TaskRunState = 'queued' | 'running' | 'success' | 'failed' | 'skipped' | 'upstream_failed' | 'cancelled' | (string & {});

export interface TaskStateEntry {
  state: TaskRunState;
  /** How long it ran, once it ended. */
  durationMs?: number;
  /** When it started running (ms since the epoch), while it runs. */
  startedAt?: number;
}

/**
 * What the last run of each DAG said of each task, as it goes: task runs from the gutter and whole-DAG runs
 * both report here, and the graph view draws it. A new whole-DAG run starts its DAG from nothing; a parse of the
 * file after its runs ended (the file, a helper or the runtime was changed, or it was asked for) makes them history.
 */
export class RunStates {
  private readonly dags = new Map<string, Map<string, TaskStateEntry>>();
  /** When each DAG's states last changed (ms since the epoch). */
  private readonly changedAt = new Map<string, number>();
  private readonly changed = new Emitter<string>();
  /** Fires the dagKey whose states changed. */
  readonly onDidChange = this.changed.event;

  /** `now`: the clock changes are stamped with (tests give their own). */
  constructor(private readonly now: () => number = Date.now) {}

  of(file: string, dagId: string): ReadonlyMap<string, TaskStateEntry> {
    return this.dags.get(dagKey(file, dagId)) ?? new Map();
  }

  /** A whole-DAG run begins: every task is queued. */
  beginDagRun(file: string, dagId: string, taskIds: readonly string[]): void {
    this.dags.set(dagKey(file, dagId), new Map(taskIds.map((id) => [id, { state: 'queued' }])));
    this.changedAt.set(dagKey(file, dagId), this.now());
    this.changed.fire(dagKey(file, dagId));
  }

  /**
   * A parse of `file` that began at `startedAt` gave a new result: the states of its DAGs whose runs had ended
   * before are of the code as it was (a task that failed may be fixed now), and are cleared. A DAG still running
   * keeps its states: they are of the run going on.
   */
  parsed(file: string, startedAt: number): void {
    for (const [key, states] of [...this.dags]) {
      if (!key.startsWith(`${file}::`) || [...states.values()].some((entry) => entry.state === 'queued' || entry.state === 'running')) continue;
      if ((this.changedAt.get(key) ?? 0) > startedAt) continue;
      this.dags.delete(key);
      this.changedAt.delete(key);
      this.changed.fire(key);
    }
  }

  /** A task's state changed (a mapped task's indexes are told one by one: the last one told is drawn). */
  set(file: string, dagId: string, taskId: string, state: TaskRunState, durationMs?: number): void {
    const key = dagKey(file, dagId);
    let states = this.dags.get(key);
    if (!states) this.dags.set(key, (states = new Map()));
    states.set(taskId, state === 'running' ? { state, startedAt: Date.now() } : { state, durationMs });
    this.changedAt.set(key, this.now());
    this.changed.fire(key);
  }

  dispose(): void {
    this.changed.dispose();
  }
}
