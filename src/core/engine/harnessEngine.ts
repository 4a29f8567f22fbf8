import { type HarnessEnd, type HarnessEvent, harnessFailure, taskStateOf } from '../harness/harnessEvents';
import type { ParseResult } from '../harness/parseResult';
import type { CheckedTemplates, TemplateHashes } from './checkedTemplates';
import { EngineError, isRuntimeEnded } from './errors';
import { renderThrough } from './renderedFields';
import { runtimeCacheOwner } from './sharedRuntimeCache';
import { type DagTestRequest, type Engine, type EngineKind, type HarnessJob, jobName, type ParseRequest, type RenderOutcome, type RenderRequest, type RunOutcome, type RunRequest } from './types';
import { retireServersAfterChange, type ServeChannel, startOnce, stopAll, type WarmOptions, type WarmPool, type WarmScope, WarmServer } from './warm';

/** A warm runtime with nothing to do for this long stops (WarmOptions.idleMs overrides it). */
const IDLE_MS = 600_000;

/** How a task run, a whole-DAG run or a render ended in an engine's runtime, and where it ran (for the message). */
export interface HarnessJobEnd {
  end: HarnessEnd;
  /** The runtime, for people: an image, an interpreter. */
  runtime: string;
  /** `in <image>`, `with <python>`: completes "the task could not be run …". */
  where: string;
}

/**
 * What both engines do alike, around the harness: the checked cache before any work (prepared once per runtime,
 * made again when the harness finds it changed), a warm parse that falls back to a runtime of its own when the
 * warm runtime ended under it, the three job verbs over one runner, and the warm pool. Each engine supplies what
 * differs: how it finds its runtime, prepares its cache, parses (warm and cold) and runs one harness job.
 */
export abstract class HarnessEngine<Warm extends { server: WarmServer } = { server: WarmServer }> implements Engine {
  abstract readonly kind: EngineKind;
  protected readonly warmServers: WarmPool<Warm> = new Map();

  constructor(protected readonly options: WarmOptions, protected readonly templates: CheckedTemplates) {}

  abstract describe(): string;

  /** The runtime a request runs in, as the checked cache knows it (an image, an interpreter); made ready here. */
  protected abstract runtimeOf(request: ParseRequest | RunRequest): Promise<string>;
  /** Our own `prepare-cache` step for that runtime: the template DB migrated and hashed (see preparedTemplates). */
  protected abstract prepareCache(runtime: string, request: ParseRequest | RunRequest): Promise<TemplateHashes>;
  /** The file parsed by this engine's warm runtime for the request (see warmServer, parseOnWarm). */
  protected abstract parseWarm(request: ParseRequest): Promise<ParseResult>;
  /** The file parsed in a runtime of its own (see harnessParseArgs, parsedOrFailure). */
  protected abstract parseCold(request: ParseRequest): Promise<ParseResult>;
  /** One harness job in a runtime of its own; its events go to `onEvent`. */
  protected abstract runJob(job: HarnessJob, onEvent: (event: HarnessEvent) => void): Promise<HarnessJobEnd>;

  parse(request: ParseRequest): Promise<ParseResult> {
    return this.withCheckedCache(request, () => this.parseOnce(request));
  }

  run(request: RunRequest): Promise<RunOutcome> {
    return this.withCheckedCache(request, () => this.runOnce({ verb: 'run', request }));
  }

  testDag(request: DagTestRequest): Promise<RunOutcome> {
    return this.withCheckedCache(request, () => this.runOnce({ verb: 'test-dag', request }));
  }

  render(request: RenderRequest): Promise<RenderOutcome> {
    return this.withCheckedCache(request, () => renderThrough(request, (job, onEvent) => this.runOnce(job, onEvent)));
  }

  retireWarmRuntimes(changedFile?: string, changedAt?: number): number {
    return retireServersAfterChange(this.warmServers, changedFile, changedAt);
  }

  async dispose(): Promise<void> {
    await stopAll(this.warmServers);
  }

  /** The runtime's cache as CheckedTemplates keeps it: prepared once per runtime, checked before each use. */
  private async withCheckedCache<T>(request: ParseRequest | RunRequest, work: () => Promise<T>): Promise<T> {
    const runtime = await this.runtimeOf(request);
    return this.templates.around(runtimeCacheOwner(runtime), () => this.prepareCache(runtime, request), work);
  }

  /** Warm unless the request wants a runtime of its own (cold, debug); a warm runtime that ended: cold, once. */
  private async parseOnce(request: ParseRequest): Promise<ParseResult> {
    if (!this.options.warm || request.cold || request.debug) return this.parseCold(request);
    try {
      return await this.parseWarm(request);
    } catch (error) {
      if (!isRuntimeEnded(error)) throw error;
      return this.parse({ ...request, cold: true }); // it may be the file that ended it: alone, it says so
    }
  }

  /** A task run, a whole-DAG run (`test-dag`) or a render: task states told as they change, exit 0 or 1, else a failure. */
  private async runOnce(job: HarnessJob, onEvent?: (event: HarnessEvent) => void): Promise<RunOutcome> {
    const began = Date.now();
    const onTask = job.verb === 'test-dag' ? job.request.onTask : undefined;
    const { end, runtime, where } = await this.runJob(job, (event) => {
      const task = taskStateOf(event);
      if (task) onTask?.(task);
      onEvent?.(event);
    });
    if (end.code === 0 || end.code === 1) return { exitCode: end.code, durationMs: Date.now() - began };
    throw harnessFailure(end, { what: `${jobName(job)} could not be run ${where}`, runtime });
  }

  /**
   * The warm server for `key`, started once by `open` (which makes its channel and hands it to `serve`); a server
   * that stops leaves the pool, and the next parse starts another.
   */
  protected warmServer(key: string, scope: WarmScope, startMs: number, open: (serve: (channel: ServeChannel, starting?: string) => WarmServer) => Promise<Warm>): Promise<Warm> {
    return startOnce(this.warmServers, key, () => open((channel, starting) => {
      const server: WarmServer = new WarmServer(channel, this.options.idleMs ?? IDLE_MS, () => {
        void this.warmServers.get(key)?.then((current) => current.server === server && this.warmServers.delete(key));
      }, startMs, starting);
      return server;
    }), scope);
  }
}

/** One file parsed by a warm server. The result comes back in the reply: no result file to share with a server that may stop right after. */
export async function parseOnWarm(server: WarmServer, request: ParseRequest, file: string, dagsFolder: string, deadlineMs: number): Promise<ParseResult> {
  const result = await server.parse({ file, dagsFolder, timeoutSeconds: deadlineMs / 1000 }, deadlineMs, request.signal);
  if (!result) throw new EngineError('harness-failed', `the warm harness sent no result for ${request.dagFile}`);
  return result;
}

/** The harness's `parse` arguments, the same for both engines: the file's deadline is the harness's to enforce. */
export function harnessParseArgs(file: string, dagsFolder: string, out: string, deadlineMs: number, startMs: number): string[] {
  return ['parse', '--file', file, '--dags-folder', dagsFolder, '--out', out, '--timeout', String(deadlineMs / 1000), '--start-timeout', String(startMs / 1000)];
}

/** A cold parse's result, or the harness's failure: no result, exit 2, a signal, or its own `error` event. */
export function parsedOrFailure(result: ParseResult | undefined, end: HarnessEnd, context: Parameters<typeof harnessFailure>[1]): ParseResult {
  if (!result || end.code === 2 || end.code === null || end.failure) throw harnessFailure(end, context);
  return result;
}

/** The template hashes in the cache step's reply (its JSON line on stdout), or the step's failure. */
export function preparedTemplates(end: HarnessEnd, reply: string, context: { what: string; runtime: string }): TemplateHashes {
  try {
    if (end.code === 0) return (JSON.parse(reply) as { templates: TemplateHashes }).templates;
  } catch {
    // said below
  }
  throw harnessFailure(end, context);
}
