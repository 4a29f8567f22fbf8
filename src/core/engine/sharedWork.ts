import { EngineError } from './errors';
import type { WorkOptions } from './types';

/**
 * One piece of slow work that several callers wait for (the DAG files of one runtime, parsed at once, wait for its
 * one image build). Each waiter hears the work's progress and output while it waits; a waiter that cancels stops
 * waiting at once, and the work itself is stopped only when every waiter has cancelled.
 */
export class SharedWork<T> {
  private readonly waiters = new Set<WorkOptions>();
  private readonly controller = new AbortController();
  private readonly done: Promise<T>;
  /** Resolves when the work ends, however it ends. */
  readonly settled: Promise<void>;

  constructor(work: (options: Required<Pick<WorkOptions, 'signal' | 'onProgress' | 'onBuildOutput'>>) => Promise<T>) {
    this.done = work({
      signal: this.controller.signal,
      onProgress: (event) => this.waiters.forEach((waiter) => waiter.onProgress?.(event)),
      // once per sink: the files of one runtime in the editor share one log
      onBuildOutput: (line) => new Set([...this.waiters].map((waiter) => waiter.onBuildOutput)).forEach((sink) => sink?.(line)),
    });
    // each waiter hears a failure; with no waiter left there is no one to tell
    this.settled = this.done.then(() => undefined, () => undefined);
  }

  /** Every waiter cancelled: the work was told to stop, and a new caller must start it again. */
  get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  /** The work's result for this caller, or a `cancelled` EngineError as soon as its own signal aborts. */
  join(options: WorkOptions): Promise<T> {
    if (options.signal?.aborted) return Promise.reject(cancelled());
    this.waiters.add(options);
    return new Promise<T>((resolve, reject) => {
      const leave = () => {
        this.waiters.delete(options);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        leave();
        if (this.waiters.size === 0) this.controller.abort();
        reject(cancelled());
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.done.then((value) => { leave(); resolve(value); }, (error: unknown) => { leave(); reject(error); });
    });
  }
}

function cancelled(): EngineError {
  return new EngineError('cancelled', 'the runtime\'s build was cancelled');
}
