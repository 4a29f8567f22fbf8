import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { RuntimeValues } from '../../runtime/values';
import { cacheDir } from '../cache';
import { runtimeEnvironment } from '../environment';
import { EngineError } from '../errors';
import { deadlineOf, hostDagRoot, hostHarnessDir } from '../layout';
import { type ParseResult, readParseResult } from '../parseResult';
import { processChannel, type ProcessOptions, type ProcessOutcome, runProcess } from '../processTree';
import { invalidate, startOnce, stopAll, type WarmPool, warmScope, WarmServer } from '../warm';
import type { Engine, ParseRequest, RunOutcome, RunRequest } from '../types';
import { resolveInterpreter } from './interpreter';

/** Variables a clean environment keeps from ours: what a process needs to find things and speak the locale. */
const INHERITED = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'SYSTEMROOT'];

/**
 * The local runtime emulator: the same harness, run by a local interpreter, with the isolation we can give
 * without containers: a clean environment, a private AIRFLOW_HOME, deadlines and process-tree cleanup.
 */
export class LocalEngine implements Engine {
  readonly kind = 'local' as const;
  private readonly warmServers: WarmPool<{ server: WarmServer }> = new Map();

  constructor(private readonly options: { warm?: boolean; idleMs?: number } = {}) {}

  describe(): string {
    return `local runtime emulator (no container: a clean environment and process-tree cleanup)${this.options.warm ? ', warm' : ''}`;
  }

  async parse(request: ParseRequest): Promise<ParseResult> {
    const started = Date.now();
    const { python, origin } = await resolveInterpreter(request.runtime.values, request);
    const dagRoot = hostDagRoot(request.dagFile, request.runtime.workspaceRoot);
    const deadlineMs = deadlineOf(request.runtime.values, 'parse');
    if (this.options.warm) {
      const result = await this.parseWarm(python, dagRoot, request, deadlineMs);
      return { ...result, engine: { kind: this.kind, detail: `${origin}, warm`, totalMs: Date.now() - started } };
    }
    const outDir = mkdtempSync(path.join(tmpdir(), 'airflow-runtime-parse-'));
    const out = path.join(outDir, 'result.json');
    try {
      request.onProgress?.({ stage: 'parse', message: `parsing ${path.basename(request.dagFile)} with ${python}` });
      const outcome = await this.harness(python, [
        'parse', '--file', request.dagFile, '--dags-folder', dagRoot, '--out', out,
        // The harness stops itself a little before our deadline, so its result can say where it hung.
        '--timeout', String(Math.max(1, deadlineMs / 1000 - 1)),
      ], request.runtime.values, { deadlineMs, signal: request.signal });
      const result = readParseResult(out);
      if (!result || outcome.code === 2 || outcome.code === null) {
        throw new EngineError('harness-failed', `the harness could not parse ${request.dagFile} with ${python} (exit ${outcome.code}):\n${outcome.tail.trim().slice(-3000)}`,
          'check that this interpreter has Airflow 2.9+ or 3.x installed (see `airflow-runtime doctor`)');
      }
      return { ...result, engine: { kind: this.kind, detail: origin, totalMs: Date.now() - started } };
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }

  async run(request: RunRequest): Promise<RunOutcome> {
    const started = Date.now();
    const { python } = await resolveInterpreter(request.runtime.values, request);
    const dagRoot = hostDagRoot(request.dagFile, request.runtime.workspaceRoot);
    const args = ['run', '--file', request.dagFile, '--dags-folder', dagRoot, '--dag-id', request.dagId, '--task-id', request.taskId];
    if (request.date) args.push('--date', request.date);
    if (request.mapIndex !== undefined) args.push('--map-index', String(request.mapIndex));
    const outcome = await this.harness(python, args, request.runtime.values, {
      deadlineMs: deadlineOf(request.runtime.values, 'run'),
      signal: request.signal,
      onLine: request.onLog,
    });
    if (outcome.code === 0 || outcome.code === 1) return { exitCode: outcome.code, durationMs: Date.now() - started };
    throw new EngineError('harness-failed', `the task could not be run (exit ${outcome.code}):\n${outcome.tail.trim().slice(-3000)}`);
  }

  async dispose(): Promise<void> {
    await stopAll(this.warmServers);
  }

  /**
   * Stops the warm servers a changed runtime file may concern (every one when no file is named); the next
   * parse starts a fresh one. For the extension, when a runtime file is saved, created or deleted.
   */
  invalidateWarm(runtimeFile?: string): number {
    return invalidate(this.warmServers, runtimeFile);
  }

  /**
   * One warm server per interpreter, DAG root and environment; started on first use, reused after. A server
   * for the same DAG root and runtime files with other values (the runtime was edited) replaces the old one.
   * Results come back on the server's stdout: no result file.
   */
  private async parseWarm(python: string, dagRoot: string, request: ParseRequest, deadlineMs: number): Promise<ParseResult> {
    const env = this.environment(request.runtime.values);
    const key = createHash('sha256').update(JSON.stringify([python, dagRoot, env])).digest('hex');
    const entry = await startOnce(this.warmServers, key, async () => {
      request.onProgress?.({ stage: 'start', message: `starting a warm harness with ${python}` });
      const server = new WarmServer(processChannel(python, ['-m', 'airflow_runtime_harness', 'serve'], env), this.options.idleMs ?? 600_000, () => {
        void this.warmServers.get(key)?.then((current) => current.server === server && this.warmServers.delete(key));
      });
      return { server };
    }, warmScope(request.runtime, dagRoot));
    const result = await entry.server.parse({ file: request.dagFile, dagsFolder: dagRoot, timeoutSeconds: Math.max(1, deadlineMs / 1000 - 1) }, deadlineMs, request.signal);
    if (!result) throw new EngineError('harness-failed', `the warm harness sent no result for ${request.dagFile}`);
    return result;
  }

  private environment(values: RuntimeValues): Record<string, string> {
    const env: Record<string, string> = {};
    for (const name of INHERITED) if (process.env[name] !== undefined) env[name] = process.env[name]!;
    return Object.assign(env, runtimeEnvironment(values), {
      PYTHONPATH: hostHarnessDir(),
      PYTHONUNBUFFERED: '1',
      AIRFLOW_RUNTIME_CACHE: cacheDir('harness'),
    });
  }

  private harness(python: string, args: string[], values: RuntimeValues, options: Omit<ProcessOptions, 'env'>): Promise<ProcessOutcome> {
    return runProcess(python, ['-m', 'airflow_runtime_harness', ...args], { ...options, env: this.environment(values) });
  }
}
