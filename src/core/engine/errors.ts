/** Why an engine could not do its job: infrastructure or configuration, never the user's DAG (exit code 2). */
export type EngineErrorCode =
  | 'engine-unreachable'
  | 'image-missing'
  | 'image-pull-failed'
  | 'image-build-failed'
  | 'interpreter-missing'
  | 'venv-build-failed'
  | 'harness-failed'
  | 'out-of-memory'
  | 'timeout'
  | 'start-timeout'
  | 'cancelled'
  | 'bad-runtime';

export class EngineError extends Error {
  constructor(readonly code: EngineErrorCode, message: string, readonly hint?: string) {
    super(message);
  }

  /** The message and what to do, for a person. */
  describe(): string {
    return this.hint ? `${this.message}\n  what to do: ${this.hint}` : this.message;
  }
}
