import type { EffectiveRuntime } from '../runtime/resolve';
import { secretsOfEnvironment, textRedactor } from '../runtime/secrets';
import { runtimeEnvironment } from './environment';
import type { ParseResult } from '../harness/parseResult';
import type { DagTestRequest, Engine, RenderOutcome, RenderRequest, RunRequest } from './types';

/** What replaces the runtime's secrets with `***` in a text: the runtime's environment says what they are. */
export function redactorFor(runtime: EffectiveRuntime): (text: string) => string {
  let env: Record<string, string>;
  try {
    env = runtimeEnvironment(runtime.values);
  } catch {
    return (text) => text; // an envFile that cannot be read: the engine refuses the work, with its own message
  }
  return textRedactor(secretsOfEnvironment(env));
}

/**
 * The engine, with the runtime's secrets (connection passwords and extras, sensitive Variables) out of everything
 * it hands on: each log line of a run (engines hand on whole lines, so a secret is never cut between two), the
 * messages of a parse result, and the messages of its failures. The one place for both engines, the CLI and the
 * editor alike.
 */
export function redactingEngine(engine: Engine): Engine {
  const redacted = async <T>(runtime: EffectiveRuntime, work: (redact: (text: string) => string) => Promise<T>): Promise<T> => {
    const redact = redactorFor(runtime);
    try {
      return await work(redact);
    } catch (error) {
      if (error instanceof Error) error.message = redact(error.message);
      throw error;
    }
  };
  const withLog = <R extends RunRequest | DagTestRequest | RenderRequest>(request: R, redact: (text: string) => string): R =>
    ({ ...request, onLog: request.onLog && ((line: string, stream: 'stdout' | 'stderr') => request.onLog!(redact(line), stream)) });
  return {
    get kind() {
      return engine.kind;
    },
    describe: () => engine.describe(),
    parse: (request) => redacted(request.runtime, async (redact) => redactParseResult(await engine.parse(request), redact)),
    run: (request) => redacted(request.runtime, (redact) => engine.run(withLog(request, redact))),
    testDag: (request) => redacted(request.runtime, (redact) => engine.testDag(withLog(request, redact))),
    render: (request) => redacted(request.runtime, async (redact) => redactRendered(await engine.render(withLog(request, redact)), redact)),
    retireWarmRuntimes: (changedFile, changedAt) => engine.retireWarmRuntimes(changedFile, changedAt),
    dispose: () => engine.dispose(),
  };
}

/** A parse result's texts for people (import errors, warnings, the output's tail) with the secrets out. */
export function redactParseResult(result: ParseResult, redact: (text: string) => string): ParseResult {
  return {
    ...result,
    importErrors: result.importErrors.map((error) => ({
      ...error,
      message: redact(error.message),
      ...(error.traceback !== undefined ? { traceback: redact(error.traceback) } : {}),
      ...(error.related ? { related: error.related.map((r) => ({ ...r, message: redact(r.message) })) } : {}),
    })),
    warnings: result.warnings.map((warning) => ({ ...warning, message: redact(warning.message) })),
    ...(result.output ? { output: { ...result.output, tail: redact(result.output.tail) } } : {}),
  };
}

/** Rendered fields with the secrets out: a template may well name a connection's password. */
export function redactRendered(outcome: RenderOutcome, redact: (text: string) => string): RenderOutcome {
  return {
    ...outcome,
    fields: outcome.fields.map((field) => ({ ...field, value: redact(field.value) })),
    ...(outcome.failure ? { failure: { ...outcome.failure, template: redact(outcome.failure.template), message: redact(outcome.failure.message) } } : {}),
  };
}
