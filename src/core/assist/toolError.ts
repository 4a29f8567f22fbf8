import { engineErrorOf } from '../engine/errors';

/** Why a tool could not do its job, for the assistant: what happened and what to do, never a stack trace. */
export class ToolError extends Error {
  constructor(message: string, readonly hint?: string, readonly code = 'refused') {
    super(message);
  }

  describe(): string {
    return this.hint ? `${this.message}\nWhat to do: ${this.hint}` : this.message;
  }
}

/** Anything thrown, as a ToolError: engine failures keep their code and their "what to do". */
export function toolErrorOf(error: unknown): ToolError {
  if (error instanceof ToolError) return error;
  const engineError = engineErrorOf(error);
  return new ToolError(engineError.message, engineError.hint, engineError.code);
}
