import { Emitter } from './emitter';

/** A task run going on: what to call it, and how to stop it. */
export interface RunningTask {
  label: string;
  cancel(): void;
}

/**
 * The task runs of an editor window that have not ended (parses are the parser's): for the status bar, which
 * shows them and cancels them with one click.
 */
export class TaskRuns {
  private readonly running = new Set<RunningTask>();
  private readonly changed = new Emitter<void>();
  readonly onDidChange = this.changed.event;

  get current(): RunningTask[] {
    return [...this.running];
  }

  /** Records a run; call the returned function when it ends. */
  begin(run: RunningTask): () => void {
    this.running.add(run);
    this.changed.fire();
    return () => {
      if (this.running.delete(run)) this.changed.fire();
    };
  }

  cancelAll(): void {
    for (const run of [...this.running]) run.cancel();
  }

  dispose(): void {
    this.changed.dispose();
  }
}
