import { type EngineError, engineErrorOf } from '../engine/errors';
import type { EngineChoice, SelectedEngine } from '../engine/select';
import { Emitter } from './emitter';

export interface EngineOptions {
  choice: EngineChoice;
  dockerEndpoint?: string;
  warm: boolean;
}

export type EngineStatus =
  | { state: 'idle' }
  | { state: 'connecting' }
  | { state: 'ready'; kind: string; reason: string }
  | { state: 'failed'; error: EngineError };

/**
 * The engine of an editor window: chosen on first use (never during activation: dockerode is loaded and
 * Docker is pinged only when a parse asks), kept for the window, and chosen again after `reset()` (the
 * settings changed, or the user retried after fixing Docker).
 */
export class EngineSession {
  private selection?: Promise<SelectedEngine>;
  private current: EngineStatus = { state: 'idle' };
  private readonly changed = new Emitter<EngineStatus>();
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly options: () => EngineOptions,
    private readonly select: (choice: EngineChoice, options: { dockerEndpoint?: string; warm?: boolean }) => Promise<SelectedEngine>,
  ) {}

  get status(): EngineStatus {
    return this.current;
  }

  engine(): Promise<SelectedEngine> {
    if (!this.selection) {
      const { choice, dockerEndpoint, warm } = this.options();
      this.setStatus({ state: 'connecting' });
      const selection = this.select(choice, { dockerEndpoint, warm });
      this.selection = selection;
      selection.then(
        (selected) => { if (this.selection === selection) this.setStatus({ state: 'ready', kind: selected.engine.kind, reason: selected.reason }); },
        (error: unknown) => {
          if (this.selection !== selection) return;
          // Not kept: the next parse tries again, so starting Docker is enough to recover.
          this.selection = undefined;
          this.setStatus({ state: 'failed', error: engineErrorOf(error) });
        },
      );
    }
    return this.selection;
  }

  /** A runtime file (or, with none named, a setting) changed: the engine retires the warm runtimes it must. */
  async retireWarmRuntimes(changedFile?: string, changedAt?: number): Promise<number> {
    if (this.current.state !== 'ready' || !this.selection) return 0;
    return this.selection.then((selected) => selected.engine.retireWarmRuntimes(changedFile, changedAt), () => 0);
  }

  /** Drop the engine (its warm runtimes stop); the next use chooses again. */
  async reset(): Promise<void> {
    const selection = this.selection;
    this.selection = undefined;
    this.setStatus({ state: 'idle' });
    if (selection) await selection.then((selected) => selected.engine.dispose(), () => undefined);
  }

  async dispose(): Promise<void> {
    await this.reset();
    this.changed.dispose();
  }

  private setStatus(status: EngineStatus): void {
    this.current = status;
    this.changed.fire(status);
  }
}
