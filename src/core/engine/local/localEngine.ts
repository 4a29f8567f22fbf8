import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { cacheDir } from '../cache';
import { CHECKED_TEMPLATES, CheckedTemplates, type TemplateHashes } from '../checkedTemplates';
import { deadlineOf, PREPARE_CACHE_MS } from '../deadlines';
import { harnessParseArgs, HarnessEngine, type HarnessJobEnd, parsedOrFailure, parseOnWarm, preparedTemplates } from '../harnessEngine';
import { harnessSetup, type HarnessSetup, hostHarnessDir, parseNetworkOf } from '../../harness/layout';
import { OWNER_VARIABLE, ownerId, ownTempDir } from '../owner';
import { type ParseResult, readParseResult } from '../../harness/parseResult';
import { processChannel, type ProcessOptions, type ProcessOutcome, runProcess } from '../processTree';
import { serveArgs, type WarmOptions, warmScope } from '../warm';
import { debuggableSetup, ensureDebugpy, freeLocalPort } from '../debugpy';
import type { HarnessEvent } from '../../harness/harnessEvents';
import { type DebugOptions, type HarnessJob, harnessRunArgs, type ParseRequest, type RunRequest } from '../types';
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
export class LocalEngine extends HarnessEngine {
  readonly kind = 'local' as const;

  constructor(options: WarmOptions = {}) {
    // template DB hashes by interpreter (CheckedTemplates)
    super(options, new CheckedTemplates('local'));
  }

  describe(): string {
    return `local runtime emulator (no container: a clean environment and process-tree cleanup; ${localSandbox().describe})${this.options.warm ? ', warm' : ''}`;
  }

  /** The interpreter of the request's runtime; the embedded default is said once per request. */
  protected async runtimeOf(request: ParseRequest | RunRequest): Promise<string> {
    const { python, origin, embedded } = await resolveInterpreter(request.runtime.values, request);
    if (embedded) request.onNotice?.(`embedded default: ${origin}`);
    return python;
  }

  protected async parseCold(request: ParseRequest): Promise<ParseResult> {
    const started = Date.now();
    const { python, origin } = await resolveInterpreter(request.runtime.values, request);
    const setup = this.setup(request, python);
    const deadlineMs = deadlineOf(request.runtime.values, 'parse');
    const startMs = deadlineOf(request.runtime.values, 'start');
    const outDir = ownTempDir('parse', setup.workingDir);
    const out = path.join(outDir, 'result.json');
    try {
      request.onProgress?.({ stage: 'parse', message: `parsing ${path.basename(request.dagFile)} with ${python}` });
      // A person stepping through the file: the run's deadline, and a network for the debugger (loopback).
      const debug = request.debug && await this.debugSetup(request.debug, setup);
      // The file's deadline is the harness's to enforce (it says where the file hung); ours is a backstop.
      const outcome = await this.harness(python, { network: !!debug || parseNetworkOf(request.runtime) !== 'none', writable: [outDir] },
        harnessParseArgs(request.dagFile, setup.dagsFolder, out, deadlineMs, startMs), debug ? debug.setup : setup, debug
          ? { deadlineMs: deadlineOf(request.runtime.values, 'run'), signal: request.signal, onEvent: debug.onEvent }
          : { deadlineMs, startMs, signal: request.signal });
      const result = parsedOrFailure(readParseResult(out), outcome, { what: `the harness could not parse ${request.dagFile} with ${python}`, runtime: python, startMs });
      return { ...result, engine: { kind: this.kind, detail: origin, totalMs: Date.now() - started } };
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }

  /** A task run, a whole-DAG run (`test-dag`) or a render, in a harness process of its own. */
  protected async runJob(job: HarnessJob, onEvent: (event: HarnessEvent) => void): Promise<HarnessJobEnd> {
    const { request } = job;
    const { python } = await resolveInterpreter(request.runtime.values, request);
    const setup = this.setup(request, python);
    const debug = job.verb === 'run' && job.request.debug ? await this.debugSetup(job.request.debug, setup) : undefined;
    const outcome = await this.harness(python, { network: true, writable: [] }, harnessRunArgs(job, request.dagFile, setup.dagsFolder), debug ? debug.setup : setup, {
      deadlineMs: deadlineOf(request.runtime.values, 'run'),
      signal: request.signal,
      onLine: request.onLog,
      onEvent: (event) => {
        debug?.onEvent(event);
        onEvent(event);
      },
    });
    return { end: outcome, runtime: python, where: `with ${python}` };
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

  /**
   * Our own step, outside the sandbox and with no DAG code: migrates the template DB and hashes it. It sees nothing
   * of the project (run from a folder of its own, no runtime env, no user site-packages), so no `sitecustomize.py`
   * of a workspace runs with the cache writable.
   */
  protected async prepareCache(python: string): Promise<TemplateHashes> {
    const tmp = ownTempDir('cache');
    let reply = '';
    const outcome = await runProcess(python, ['-m', 'airflow_runtime_harness', 'prepare-cache'], {
      env: { ...hostEnvironment('harness'), PYTHONPATH: hostHarnessDir(), PYTHONNOUSERSITE: '1', AIRFLOW_RUNTIME_CACHE: cacheDir('harness'), AIRFLOW_RUNTIME_EVENTS: '1', TMPDIR: tmp, PYTHONDONTWRITEBYTECODE: '1' },
      cwd: tmp,
      deadlineMs: PREPARE_CACHE_MS,
      onLine: (line, stream) => { if (stream === 'stdout' && line.startsWith('{')) reply = line; },
    }).finally(() => rmSync(tmp, { recursive: true, force: true }));
    return preparedTemplates(outcome, reply, { what: `the harness cache for ${python} could not be prepared`, runtime: python });
  }

  /**
   * One warm server per interpreter, DAG root and environment; started on first use, reused after. A server
   * for the same DAG root and runtime files with other values (the runtime was edited) replaces the old one.
   * Results come back on the server's stdout: no result file.
   */
  protected async parseWarm(request: ParseRequest): Promise<ParseResult> {
    const started = Date.now();
    const { python, origin } = await resolveInterpreter(request.runtime.values, request);
    const setup = this.setup(request, python);
    const { env, workingDir, dagsFolder: dagRoot } = setup;
    const deadlineMs = deadlineOf(request.runtime.values, 'parse');
    const key = createHash('sha256').update(JSON.stringify([python, dagRoot, env, workingDir])).digest('hex');
    const entry = await this.warmServer(key, warmScope(request.runtime, dagRoot), deadlineOf(request.runtime.values, 'start'), async (serve) => {
      request.onProgress?.({ stage: 'start', message: `starting ${python}: Airflow's import (once per runtime)` });
      // the server's temp files (its AIRFLOW_HOME, its DB) go when it ends, however it ends
      const tmp = harnessTemp('warm', workingDir);
      const sandboxed = this.sandboxed(python, { network: parseNetworkOf(request.runtime) !== 'none', writable: tmp.writable }, serveArgs(this.options), setup);
      const channel = processChannel(sandboxed.command, sandboxed.args, { ...env, TMPDIR: tmp.dir }, workingDir);
      void channel.ended.then(tmp.remove);
      return { server: serve(channel) };
    });
    const result = await parseOnWarm(entry.server, request, request.dagFile, dagRoot, deadlineMs);
    return { ...result, engine: { kind: this.kind, detail: `${origin}, warm`, totalMs: Date.now() - started } };
  }

  /** The same layout as a container's, with host paths: a clean environment with only what a process needs from ours. */
  private setup(request: ParseRequest | RunRequest, python: string): HarnessSetup {
    const setup = harnessSetup(request.runtime, request.dagFile, 'local', {
      // no __pycache__ in the project's folders (writable to a harness that runs without a sandbox)
      PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', AIRFLOW_RUNTIME_CACHE: cacheDir('harness'), [OWNER_VARIABLE]: ownerId(),
      [CHECKED_TEMPLATES]: JSON.stringify(this.templates.current(python)),
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
