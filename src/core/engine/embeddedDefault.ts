import { declaredAirflowOf, DEFAULT_IMAGE } from '../runtime/declaredAirflow';
import type { EffectiveRuntime } from '../runtime/resolve';
import { EngineError } from './errors';
import { localSandbox } from './local/sandbox';
import type { ParseResult } from '../harness/parseResult';
import type { DagTestRequest, Engine, ParseRequest, RenderOutcome, RenderRequest, RunOutcome, RunRequest, WorkOptions } from './types';

/** A runtime's image is known unavailable this long: a folder of files tries the registry once, not once per file. */
const UNAVAILABLE_FOR_MS = 60_000;

/**
 * Docker's pull and inspect errors, reduced to their cause for a person: the registry cannot be reached, has no
 * such image, or refused us. The engine's own words stay in the log.
 */
export function imageUnavailableCause(message: string): string {
  if (/no such host|dial tcp|i\/o timeout|connection refused|network is unreachable|TLS handshake timeout|Client\.Timeout/i.test(message)) return 'no registry can be reached from here';
  if (/unauthorized|authentication required|denied: requested access/i.test(message)) return 'the registry refused the login (docker login)';
  if (/pull access denied|repository does not exist|manifest unknown|not found/i.test(message)) return 'the registry has no such image';
  if (/is not present and the runtime says pull: never/.test(message)) return 'it is not on this engine and the runtime says pull: never';
  return message.split('\n')[0];
}

function isImageUnavailable(error: unknown): error is EngineError {
  return error instanceof EngineError && (error.code === 'image-missing' || error.code === 'image-pull-failed');
}

/** Whether the local emulator can run a runtime: an interpreter named, requirements, or a declared Airflow version. */
export function localFallbackOf(runtime: EffectiveRuntime): string | undefined {
  const { values } = runtime;
  if (values.local?.python) return `local.python ${values.local.python}`;
  if (values.local?.requirements) return `a local venv from ${values.local.requirements}`;
  const declared = declaredAirflowOf(values);
  return declared && `a local Airflow ${declared.version}`;
}

/**
 * `auto` with Docker reachable: each runtime runs in Docker, and one whose image cannot be had (not here, not
 * pullable, no registry) runs on the local emulator with the Airflow the runtime declares, saying why. A runtime
 * that declares nothing the emulator could use keeps Docker's error, with what to do.
 */
export class EmbeddedDefaultEngine implements Engine {
  readonly kind = 'docker' as const;
  private readonly unavailable = new Map<string, { cause: string; until: number }>();
  private readonly firstTry = new Map<string, Promise<void>>();

  /**
   * `sandbox`: what the local emulator can wall off here. A runtime file must not move DAG code out of a container by
   * naming an image nobody can pull: without a sandbox there is no embedded default, only Docker's error.
   */
  constructor(private readonly docker: Engine, private readonly local: () => Engine, private readonly sandbox: () => { available: boolean; describe: string } = localSandbox) {}

  describe(): string {
    const sandbox = this.sandbox();
    return sandbox.available
      ? `${this.docker.describe()}; a runtime whose image cannot be had runs on the local runtime emulator (the embedded default, ${sandbox.describe})`
      : `${this.docker.describe()}; no embedded default here (${sandbox.describe})`;
  }

  async parse(request: ParseRequest): Promise<ParseResult> {
    return this.route(request, (engine, fallback) => engine.parse(request).then((result) => fallback
      ? { ...result, engine: { kind: 'local' as const, detail: `${fallback}; ${result.engine?.detail ?? ''}`, totalMs: result.engine?.totalMs ?? result.durationMs } }
      : result), true);
  }

  run(request: RunRequest): Promise<RunOutcome> {
    return this.route(request, (engine) => engine.run(request));
  }

  testDag(request: DagTestRequest): Promise<RunOutcome> {
    return this.route(request, (engine) => engine.testDag(request));
  }

  render(request: RenderRequest): Promise<RenderOutcome> {
    return this.route(request, (engine) => engine.render(request));
  }

  retireWarmRuntimes(changedFile?: string, changedAt?: number): number {
    this.unavailable.clear();
    return this.docker.retireWarmRuntimes(changedFile, changedAt) + (this.localEngine?.retireWarmRuntimes(changedFile, changedAt) ?? 0);
  }

  async dispose(): Promise<void> {
    await Promise.all([this.docker.dispose(), this.localEngine?.dispose()]);
  }

  private localEngine?: Engine;

  /** `gate`: parses come by the folder, so the first of a runtime asks the engine and the others wait for its answer. */
  private async route<T>(request: WorkOptions & { runtime: EffectiveRuntime }, work: (engine: Engine, fallback?: string) => Promise<T>, gate = false): Promise<T> {
    const image = request.runtime.values.build ? undefined : request.runtime.values.image ?? DEFAULT_IMAGE;
    // files of one runtime at once: the first asks the engine, the rest wait for its answer (one pull, not one each)
    const first = image && gate ? this.firstTry.get(image) : undefined;
    if (first) await first;
    const known = image ? this.unavailable.get(image) : undefined;
    if (image && known && known.until > Date.now()) return this.onLocal(request, image, known.cause, work);
    const attempt = work(this.docker);
    if (image && gate && !this.firstTry.has(image)) this.firstTry.set(image, attempt.then(() => undefined, () => undefined));
    try {
      return await attempt;
    } catch (error) {
      if (!image || !isImageUnavailable(error)) throw error;
      const cause = imageUnavailableCause(error.message);
      if (!this.sandbox().available) {
        throw new EngineError(error.code, `${image} cannot be had here: ${cause}; the local runtime emulator would run it without a sandbox on this machine, so it does not`,
          `build or load the image, install bubblewrap, or choose the local runtime emulator yourself (--engine local); Docker said: ${error.message.split('\n')[0]}`);
      }
      if (!localFallbackOf(request.runtime)) {
        throw new EngineError(error.code, `${image} cannot be had here: ${cause}`,
          `name an image this engine has (docker image ls), build it (a build: section), or give the runtime file local.requirements for the local runtime emulator; Docker said: ${error.message.split('\n')[0]}`);
      }
      this.unavailable.set(image, { cause, until: Date.now() + UNAVAILABLE_FOR_MS });
      return this.onLocal(request, image, cause, work);
    }
  }

  private onLocal<T>(request: WorkOptions & { runtime: EffectiveRuntime }, image: string, cause: string, work: (engine: Engine, fallback?: string) => Promise<T>): Promise<T> {
    const fallback = `embedded default: ${image} cannot be had here (${cause}): using ${localFallbackOf(request.runtime)}`;
    request.onNotice?.(fallback);
    this.localEngine ??= this.local();
    return work(this.localEngine, fallback);
  }
}
