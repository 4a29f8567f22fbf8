import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { cacheDir } from '../cache';
import { CheckedTemplates, type TemplateHashes } from '../checkedTemplates';
import { EngineError, isRuntimeEnded } from '../errors';
import { deadlineOf, PREPARE_CACHE_MS } from '../deadlines';
import { harnessSetup, type HarnessSetup, hostHarnessDir, parseNetworkOf } from '../../harness/layout';
import { OWNER_VARIABLE, ownerId, ownTempDir } from '../owner';
import { type ParseResult, readParseResult } from '../../harness/parseResult';
import { processChannel, type ProcessOptions, type ProcessOutcome, runProcess } from '../processTree';
import { retireServersAfterChange, serveArgs, startOnce, stopAll, type WarmOptions, type WarmPool, warmScope, WarmServer } from '../warm';
import { debuggableSetup, ensureDebugpy, freeLocalPort } from '../debugpy';
import { harnessFailure, type HarnessEvent, taskStateOf } from '../../harness/harnessEvents';
import { renderThrough } from '../renderedFields';
import { type DagTestRequest, type DebugOptions, type Engine, type HarnessJob, harnessRunArgs, jobName, type ParseRequest, type RenderOutcome, type RenderRequest, type RunOutcome, type RunRequest } from '../types';
import { hostEnvironment } from './hostEnvironment';
import { resolveInterpreter } from './interpreter';
import { HOME, interpreterFolders, localSandbox } from './sandbox';


/**
 * Where a harness process's temp files go (its TMPDIR): the sandbox's private /tmp when it has one (bubblewrap's
 * tmpfs, gone with the sandbox even when we are killed), else a folder of ours, named for us, that we remove when
 * the process ends, and the harness removes itself when we are gone (env.py); `cleanup` finds what is left.
 */
function harnessTemp(kind: string, project: string): { dir: string; writable: string[]; remove: () => void } {
  const { args } = localSandbox().wrap('true', [], { network: false, writable: [], readable: [], home: HOME });
  if (args.some((arg, i) => arg === '--tmpfs' && args[i + 1] === '/tmp')) return { dir: '/tmp', writable: [], remove: () => undefined };
  const dir = ownTempDir(kind, project);
  return { dir, writable: [dir], remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The local runtime emulator: the same harness, run by a local interpreter, with the isolation we can give
 * without containers: a clean environment, a private AIRFLOW_HOME, deadlines and process-tree cleanup.
 */
export class LocalEngine implements Engine {
  readonly kind = 'local' as const;
  private readonly warmServers: WarmPool<{ server: WarmServer }> = new Map();
  /** Template DB hashes by interpreter (CheckedTemplates). */
  private readonly templates = new CheckedTemplates('local');

  constructor(private readonly options: WarmOptions = {}) {}

  describe(): string {
    return `local runtime emulator (no container: a clean environment and process-tree cleanup; ${localSandbox().describe})${this.options.warm ? ', warm' : ''}`;
  }

  async parse(request: ParseRequest): Promise<ParseResult> {
    return this.withCheckedCache(request, () => this.parseOnce(request));
  }

  private async parseOnce(request: ParseRequest): Promise<ParseResult> {
    const started = Date.now();
    const { python, origin } = await resolveInterpreter(request.runtime.values, request);
    const setup = this.setup(request, python);
    const dagRoot = setup.dagsFolder;
    const deadlineMs = deadlineOf(request.runtime.values, 'parse');
    const startMs = deadlineOf(request.runtime.values, 'start');
    if (this.options.warm && !request.cold && !request.debug) {
      let result: ParseResult;
      try {
        result = await this.parseWarm(python, setup, request, deadlineMs);
      } catch (error) {
        if (!isRuntimeEnded(error)) throw error;
        return this.parse({ ...request, cold: true }); // it may be the file that ended it: alone, it says so
      }
      return { ...result, engine: { kind: this.kind, detail: `${origin}, warm`, totalMs: Date.now() - started } };
    }
    const outDir = ownTempDir('parse', setup.workingDir);
    const out = path.join(outDir, 'result.json');
    try {
      request.onProgress?.({ stage: 'parse', message: `parsing ${path.basename(request.dagFile)} with ${python}` });
      // A person stepping through the file: the run's deadline, and a network for the debugger (loopback).
      const debug = request.debug && await this.debugSetup(request.debug, setup);
      const outcome = await this.harness(python, { network: !!debug || parseNetworkOf(request.runtime) !== 'none', writable: [outDir] }, [
        'parse', '--file', request.dagFile, '--dags-folder', dagRoot, '--out', out,
        // The file's deadline is the harness's to enforce (it says where the file hung); ours is a backstop.
        '--timeout', String(deadlineMs / 1000), '--start-timeout', String(startMs / 1000),
      ], debug ? debug.setup : setup, debug
        ? { deadlineMs: deadlineOf(request.runtime.values, 'run'), signal: request.signal, onEvent: debug.onEvent }
        : { deadlineMs, startMs, signal: request.signal });
      const result = readParseResult(out);
      if (!result || outcome.code === 2 || outcome.code === null || outcome.failure) {
        throw harnessFailure(outcome, { what: `the harness could not parse ${request.dagFile} with ${python}`, runtime: python, startMs });
      }
      return { ...result, engine: { kind: this.kind, detail: origin, totalMs: Date.now() - started } };
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }

  async run(request: RunRequest): Promise<RunOutcome> {
    return this.withCheckedCache(request, () => this.runOnce({ verb: 'run', request }));
  }

  async testDag(request: DagTestRequest): Promise<RunOutcome> {
    return this.withCheckedCache(request, () => this.runOnce({ verb: 'test-dag', request }));
  }

  async render(request: RenderRequest): Promise<RenderOutcome> {
    return this.withCheckedCache(request, () => renderThrough(request, (job, onEvent) => this.runOnce(job, onEvent)));
  }

  /** A task run, a whole-DAG run (`test-dag`) or a render, in a harness process of its own. */
  private async runOnce(job: HarnessJob, onEvent?: (event: HarnessEvent) => void): Promise<RunOutcome> {
    const { request } = job;
    const started = Date.now();
    const { python } = await resolveInterpreter(request.runtime.values, request);
    const setup = this.setup(request, python);
    const debug = job.verb === 'run' && job.request.debug ? await this.debugSetup(job.request.debug, setup) : undefined;
    const onTask = job.verb === 'test-dag' ? job.request.onTask : undefined;
    const outcome = await this.harness(python, { network: true, writable: [] }, harnessRunArgs(job, request.dagFile, setup.dagsFolder), debug ? debug.setup : setup, {
      deadlineMs: deadlineOf(request.runtime.values, 'run'),
      signal: request.signal,
      onLine: request.onLog,
      onEvent: (event) => {
        debug?.onEvent(event);
        const task = taskStateOf(event);
        if (task) onTask?.(task);
        onEvent?.(event);
      },
    });
    if (outcome.code === 0 || outcome.code === 1) return { exitCode: outcome.code, durationMs: Date.now() - started };
    throw harnessFailure(outcome, { what: `${jobName(job)} could not be run with ${python}`, runtime: python });
  }

  /** debugpy on the harness's path, listening on a loopback port; the client is told when it listens. */
  private async debugSetup(debug: DebugOptions, setup: HarnessSetup): Promise<{ setup: HarnessSetup; onEvent: (event: HarnessEvent) => void }> {
    const port = debug.port ?? await freeLocalPort();
    return {
      setup: debuggableSetup(setup, await ensureDebugpy(), 'local', { host: '127.0.0.1', port }),
      onEvent: (event) => {
        if (event.event === 'debug-listening') debug.onReady({ host: '127.0.0.1', port });
        if (event.event === 'debug-ended') debug.onEnded?.();
      },
    };
  }

  /** The harness cache as CheckedTemplates keeps it: prepared once per interpreter, checked before each use. */
  private async withCheckedCache<T>(request: ParseRequest | RunRequest, work: () => Promise<T>): Promise<T> {
    const { python, origin, embedded } = await resolveInterpreter(request.runtime.values, request);
    if (embedded) request.onNotice?.(`embedded default: ${origin}`);
    return this.templates.around(python, () => this.prepareCache(python), work);
  }

  /**
   * Our own step, outside the sandbox and with no DAG code: migrates the template DB and hashes it. It sees nothing
   * of the project (run from a folder of its own, no runtime env, no user site-packages), so no `sitecustomize.py`
   * of a workspace runs with the cache writable.
   */
  private async prepareCache(python: string): Promise<TemplateHashes> {
    const tmp = ownTempDir('cache');
    const outcome = await runProcess(python, ['-m', 'airflow_runtime_harness', 'prepare-cache'], {
      env: { ...hostEnvironment('harness'), PYTHONPATH: hostHarnessDir(), PYTHONNOUSERSITE: '1', AIRFLOW_RUNTIME_CACHE: cacheDir('harness'), AIRFLOW_RUNTIME_EVENTS: '1', TMPDIR: tmp, PYTHONDONTWRITEBYTECODE: '1' },
      cwd: tmp,
      deadlineMs: PREPARE_CACHE_MS,
    }).finally(() => rmSync(tmp, { recursive: true, force: true }));
    try {
      if (outcome.code === 0) return (JSON.parse(outcome.tail.trim().split('\n').filter((l) => l.startsWith('{')).pop() ?? '') as { templates: TemplateHashes }).templates;
    } catch {
      // said below
    }
    throw harnessFailure(outcome, { what: `the harness cache for ${python} could not be prepared`, runtime: python });
  }

  async dispose(): Promise<void> {
    await stopAll(this.warmServers);
  }

  retireWarmRuntimes(changedFile?: string, changedAt?: number): number {
    return retireServersAfterChange(this.warmServers, changedFile, changedAt);
  }

  /**
   * One warm server per interpreter, DAG root and environment; started on first use, reused after. A server
   * for the same DAG root and runtime files with other values (the runtime was edited) replaces the old one.
   * Results come back on the server's stdout: no result file.
   */
  private async parseWarm(python: string, setup: HarnessSetup, request: ParseRequest, deadlineMs: number): Promise<ParseResult> {
    const { env, workingDir, dagsFolder: dagRoot } = setup;
    const key = createHash('sha256').update(JSON.stringify([python, dagRoot, env, workingDir])).digest('hex');
    const entry = await startOnce(this.warmServers, key, async () => {
      request.onProgress?.({ stage: 'start', message: `starting ${python}: Airflow's import (once per runtime)` });
      // the server's temp files (its AIRFLOW_HOME, its DB) go when it ends, however it ends
      const tmp = harnessTemp('warm', workingDir);
      const sandboxed = this.sandboxed(python, { network: parseNetworkOf(request.runtime) !== 'none', writable: tmp.writable }, serveArgs(this.options), setup);
      const channel = processChannel(sandboxed.command, sandboxed.args, { ...env, TMPDIR: tmp.dir }, workingDir);
      void channel.ended.then(tmp.remove);
      const server = new WarmServer(channel, this.options.idleMs ?? 600_000, () => {
        void this.warmServers.get(key)?.then((current) => current.server === server && this.warmServers.delete(key));
      }, deadlineOf(request.runtime.values, 'start'));
      return { server };
    }, warmScope(request.runtime, dagRoot));
    const result = await entry.server.parse({ file: request.dagFile, dagsFolder: dagRoot, timeoutSeconds: deadlineMs / 1000 }, deadlineMs, request.signal);
    if (!result) throw new EngineError('harness-failed', `the warm harness sent no result for ${request.dagFile}`);
    return result;
  }

  /** The same layout as a container's, with host paths: a clean environment with only what a process needs from ours. */
  private setup(request: ParseRequest | RunRequest, python: string): HarnessSetup {
    const setup = harnessSetup(request.runtime, request.dagFile, 'local', {
      // no __pycache__ in the project's folders (writable to a harness that runs without a sandbox)
      PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', AIRFLOW_RUNTIME_CACHE: cacheDir('harness'), [OWNER_VARIABLE]: ownerId(),
      AIRFLOW_RUNTIME_TEMPLATE_HASHES: JSON.stringify(this.templates.current(python)),
    });
    return { ...setup, env: { ...hostEnvironment('harness'), ...setup.env } };
  }

  /** A harness process with temp files of its own (its AIRFLOW_HOME, its DB), gone when it ends, cancelled or not. */
  private async harness(python: string, access: { network: boolean; writable: string[] }, args: string[], setup: HarnessSetup, options: Omit<ProcessOptions, 'env'>): Promise<ProcessOutcome> {
    const tmp = harnessTemp('harness', setup.workingDir);
    try {
      const { command, args: argv } = this.sandboxed(python, { ...access, writable: [...access.writable, ...tmp.writable] }, ['-m', 'airflow_runtime_harness', ...args], setup);
      return await runProcess(command, argv, { ...options, env: { ...setup.env, TMPDIR: tmp.dir }, cwd: setup.workingDir });
    } finally {
      tmp.remove();
    }
  }

  /**
   * The harness command inside the sandbox this machine allows: the project's folders and the interpreter
   * readable, the harness's cache and result folder writable, nothing else (see sandbox.ts).
   */
  private sandboxed(python: string, access: { network: boolean; writable: string[] }, args: string[], setup: HarnessSetup): { command: string; args: string[] } {
    return localSandbox().wrap(python, args, {
      network: access.network,
      home: HOME,
      // the cache read-only: its template DB is checked before use, and no DAG code may change it for the next
      readable: [...interpreterFolders(python), ...setup.placements.map((p) => p.host), setup.workingDir, cacheDir()],
      writable: access.writable,
    });
  }
}
