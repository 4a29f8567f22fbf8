import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { parseSize } from '../../runtime/units';
import type { RuntimeValues } from '../../runtime/values';
import { runtimeEnvironment } from '../environment';
import { EngineError } from '../errors';
import { lineSplitter } from '../lines';
import { CONTAINER_CACHE, CONTAINER_HARNESS, CONTAINER_OUT, dagsFolderOf, deadlineOf, hostDagRoot, hostHarnessDir, PathMap } from '../layout';
import { mapResultPaths, type ParseResult, readParseResult } from '../parseResult';
import type { Engine, ParseRequest, RunOutcome, RunRequest, WorkOptions } from '../types';
import { type ServeChannel, startOnce, stopAll, type WarmPool, WarmServer } from '../warm';
import { dockerOptions, type EndpointCandidate, endpointCandidates } from './endpoint';
import { ensureImage } from './images';

/** Labels on every container we make, so that `cleanup` and a later start can find leftovers. */
export const LABEL_MANAGED = 'airflow-runtime.managed';
export const LABEL_OWNER = 'airflow-runtime.owner';
export const LABEL_DAG_FILE = 'airflow-runtime.dag-file';
export const CACHE_VOLUME = 'airflow-runtime-cache';

export interface DockerConnection {
  docker: Docker;
  endpoint: EndpointCandidate;
  local: boolean;
  version: string;
}

/** Tries each endpoint with a ping under a short deadline; says which one answered, or why each failed. */
export async function connectDocker(explicit?: string, pingTimeoutMs = 3000): Promise<DockerConnection> {
  const { default: DockerClient } = await import('dockerode');
  const failures: string[] = [];
  for (const endpoint of endpointCandidates(explicit)) {
    try {
      const { options, local } = dockerOptions(endpoint.url);
      const docker = new DockerClient({ ...options, timeout: pingTimeoutMs });
      const version = await docker.version();
      // The ping deadline is for finding the engine; real work (pulls, long parses) has its own deadlines.
      return { docker: new DockerClient(options), endpoint, local, version: `${version.Version} (API ${version.ApiVersion})` };
    } catch (error) {
      failures.push(`${endpoint.url} (${endpoint.origin}): ${(error as Error).message}`);
    }
  }
  throw new EngineError('engine-unreachable', `Docker is not reachable. Tried:\n  ${failures.join('\n  ')}`,
    'start Docker (or Podman), set DOCKER_HOST or the airflowRuntime.docker.endpoint setting, or use --engine local');
}

interface ContainerJob extends WorkOptions {
  image: string;
  cmd: string[];
  values: RuntimeValues;
  binds: string[];
  network: string;
  deadlineMs: number;
  dagFile: string;
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** The Docker engine: each parse or run in a fresh, labelled container of the DAG file's runtime image. */
export class DockerEngine implements Engine {
  readonly kind = 'docker' as const;
  private readonly pulled = new Set<string>();
  private readonly owner = `${os.hostname()}:${process.pid}`;
  private readonly warmServers: WarmPool = new Map();

  constructor(readonly connection: DockerConnection, private readonly options: { warm?: boolean; idleMs?: number } = {}) {}

  describe(): string {
    return `docker at ${this.connection.endpoint.url} (${this.connection.endpoint.origin}), engine ${this.connection.version}${this.options.warm ? ', warm' : ''}`;
  }

  async parse(request: ParseRequest): Promise<ParseResult> {
    const started = Date.now();
    const { values } = request.runtime;
    const image = await ensureImage(this.connection.docker, values, this.pulled, request);
    const map = this.pathMap(request);
    const deadlineMs = deadlineOf(values, 'parse');
    if (this.options.warm) {
      const result = await this.parseWarm(image, map, request, deadlineMs);
      const mapped = mapResultPaths(result, (p) => map.toHost(p), (t) => map.rewriteText(t));
      return { ...mapped, engine: { kind: this.kind, detail: `${image} via ${this.connection.endpoint.url}, warm`, totalMs: Date.now() - started } };
    }
    const outDir = mkdtempSync(path.join(os.tmpdir(), 'airflow-runtime-parse-'));
    chmodSync(outDir, 0o777); // the image's user may not be root
    try {
      request.onProgress?.({ stage: 'parse', message: `parsing ${path.basename(request.dagFile)} in ${image}` });
      const { exitCode, tail } = await this.runContainer({
        ...request, image, values, dagFile: request.dagFile, deadlineMs,
        network: values.network ?? 'none',
        binds: [...this.binds(request), `${outDir}:${CONTAINER_OUT}`],
        cmd: ['python', '-m', 'airflow_runtime_harness', 'parse', '--file', map.toRuntime(request.dagFile),
          '--dags-folder', dagsFolderOf(values), '--out', `${CONTAINER_OUT}/result.json`,
          '--timeout', String(Math.max(1, deadlineMs / 1000 - 2))],
      });
      const result = readParseResult(path.join(outDir, 'result.json'));
      if (!result || exitCode === 2) {
        throw new EngineError('harness-failed', `the harness could not parse ${request.dagFile} in ${image} (exit ${exitCode}):\n${map.rewriteText(tail).trim().slice(-3000)}`,
          exitCode === 127 ? `${image} has no python on PATH: is it an Airflow image?` : `check that ${image} has Airflow 2.9+ or 3.x (airflow-runtime doctor)`);
      }
      const mapped = mapResultPaths(result, (p) => map.toHost(p), (t) => map.rewriteText(t));
      return { ...mapped, engine: { kind: this.kind, detail: `${image} via ${this.connection.endpoint.url}`, totalMs: Date.now() - started } };
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }

  async run(request: RunRequest): Promise<RunOutcome> {
    const started = Date.now();
    const { values } = request.runtime;
    const image = await ensureImage(this.connection.docker, values, this.pulled, request);
    const map = this.pathMap(request);
    const dagsFolder = dagsFolderOf(values);
    const cmd = ['python', '-m', 'airflow_runtime_harness', 'run', '--file', map.toRuntime(request.dagFile), '--dags-folder', dagsFolder,
      '--dag-id', request.dagId, '--task-id', request.taskId];
    if (request.date) cmd.push('--date', request.date);
    if (request.mapIndex !== undefined) cmd.push('--map-index', String(request.mapIndex));
    const { exitCode, tail } = await this.runContainer({
      ...request, image, values, cmd, dagFile: request.dagFile,
      network: values.network ?? 'bridge',
      binds: this.binds(request),
      deadlineMs: deadlineOf(values, 'run'),
      onLine: (line, stream) => request.onLog(map.rewriteText(line), stream),
    });
    if (exitCode === 0 || exitCode === 1) return { exitCode, durationMs: Date.now() - started };
    throw new EngineError('harness-failed', `the task could not be run in ${image} (exit ${exitCode}):\n${map.rewriteText(tail).trim().slice(-3000)}`);
  }

  async dispose(): Promise<void> {
    await stopAll(this.warmServers);
  }

  /** One warm container per image, DAG root and container settings; started on first use, reused after. */
  private async parseWarm(image: string, map: PathMap, request: ParseRequest, deadlineMs: number): Promise<ParseResult> {
    const { values } = request.runtime;
    const binds = this.binds(request);
    const dagsFolder = dagsFolderOf(values);
    const spec = this.containerSpec({ image, values, binds, network: values.network ?? 'none', dagFile: request.dagFile, cmd: ['python', '-m', 'airflow_runtime_harness', 'serve'] });
    const key = createHash('sha256').update(JSON.stringify([spec.Image, spec.Env, binds, spec.HostConfig])).digest('hex');
    const entry = await startOnce(this.warmServers, key, async () => {
      request.onProgress?.({ stage: 'start', message: `starting a warm harness in ${image}` });
      const outDir = mkdtempSync(path.join(os.tmpdir(), 'airflow-runtime-warm-'));
      chmodSync(outDir, 0o777);
      spec.HostConfig!.Binds = [...binds, `${outDir}:${CONTAINER_OUT}`];
      spec.Labels![LABEL_DAG_FILE] = `warm:${map.toHost(dagsFolder)}`;
      const server = new WarmServer(await this.serveContainer(spec), this.options.idleMs ?? 600_000, () => {
        void this.warmServers.get(key)?.then((current) => current.server === server && this.warmServers.delete(key));
        rmSync(outDir, { recursive: true, force: true });
      });
      return { server, outDir };
    });
    const name = `${createHash('sha256').update(request.dagFile).digest('hex').slice(0, 16)}-${Date.now()}.json`;
    try {
      await entry.server.parse({ file: map.toRuntime(request.dagFile), dagsFolder, out: `${CONTAINER_OUT}/${name}`, timeoutSeconds: Math.max(1, deadlineMs / 1000 - 2) }, deadlineMs, request.signal);
      const result = readParseResult(path.join(entry.outDir, name));
      if (!result) throw new EngineError('harness-failed', `the warm harness wrote no result for ${request.dagFile}`);
      return result;
    } finally {
      rmSync(path.join(entry.outDir, name), { force: true });
    }
  }

  private pathMap(request: ParseRequest | RunRequest): PathMap {
    const { values, workspaceRoot } = request.runtime;
    return new PathMap([
      { host: hostDagRoot(request.dagFile, workspaceRoot), runtime: dagsFolderOf(values) },
      { host: hostHarnessDir(), runtime: CONTAINER_HARNESS },
      ...(values.mounts ?? []).map((m) => ({ host: m.source, runtime: m.target })),
    ]);
  }

  private binds(request: ParseRequest | RunRequest): string[] {
    if (!this.connection.local) {
      throw new EngineError('engine-unreachable', `the Docker engine at ${this.connection.endpoint.url} is remote: bind mounts would show empty folders there`,
        'use a local Docker engine or --engine local (copying the DAG tree to remote engines is not supported yet)');
    }
    const { values, workspaceRoot } = request.runtime;
    return [
      `${hostDagRoot(request.dagFile, workspaceRoot)}:${dagsFolderOf(values)}:ro`,
      `${hostHarnessDir()}:${CONTAINER_HARNESS}:ro`,
      ...(values.mounts ?? []).map((m) => `${m.source}:${m.target}${m.readOnly === false ? '' : ':ro'}`),
    ];
  }

  private containerSpec(job: Pick<ContainerJob, 'image' | 'cmd' | 'values' | 'binds' | 'network' | 'dagFile'>): Docker.ContainerCreateOptions {
    const memory = parseSize(job.values.resources?.memory);
    return {
      Image: job.image,
      Cmd: job.cmd,
      Env: Object.entries({
        ...runtimeEnvironment(job.values),
        PYTHONPATH: CONTAINER_HARNESS,
        PYTHONUNBUFFERED: '1',
        AIRFLOW_RUNTIME_CACHE: CONTAINER_CACHE,
      }).map(([k, v]) => `${k}=${v}`),
      Labels: { [LABEL_MANAGED]: 'true', [LABEL_OWNER]: this.owner, [LABEL_DAG_FILE]: job.dagFile },
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: {
        Binds: job.binds,
        Mounts: [{ Type: 'volume', Source: CACHE_VOLUME, Target: CONTAINER_CACHE }],
        NetworkMode: job.network,
        ...(memory ? { Memory: memory, MemorySwap: memory } : {}),
        ...(job.values.resources?.cpus ? { NanoCpus: Math.round(job.values.resources.cpus * 1e9) } : {}),
      },
    };
  }

  /** A warm harness (`serve`) in a long-lived container, talked to over its attached stdin and stdout. */
  private async serveContainer(spec: Docker.ContainerCreateOptions): Promise<ServeChannel> {
    const { docker } = this.connection;
    const container = await docker.createContainer({ ...spec, OpenStdin: true, StdinOnce: false, AttachStdin: true });
    const stream = await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    docker.modem.demuxStream(stream, stdout, stderr);
    let tail = '';
    stderr.on('data', (chunk: Buffer) => { tail = (tail + chunk.toString('utf8')).slice(-16_384); });
    const ended = (container.wait({ condition: 'next-exit' }) as Promise<unknown>).then(() => undefined, () => undefined);
    try {
      await container.start();
    } catch (error) {
      await container.remove({ force: true }).catch(() => undefined);
      throw error;
    }
    return {
      send: (line) => stream.write(`${line}\n`),
      onLine: (listener) => createInterface({ input: stdout }).on('line', listener),
      ended,
      tail: () => tail,
      async stop() {
        await container.remove({ force: true }).catch(() => undefined);
        await ended;
      },
    };
  }

  /** create, attach and demultiplex, wait (next-exit), start; kill on deadline or abort; remove in finally. */
  private async runContainer(job: ContainerJob): Promise<{ exitCode: number; tail: string }> {
    const { docker } = this.connection;
    const container = await docker.createContainer(this.containerSpec(job));
    let tail = '';
    let stopped: EngineError | undefined;
    const keep = 16_384;
    try {
      const stream = await container.attach({ stream: true, stdout: true, stderr: true });
      const outputs = { stdout: new PassThrough(), stderr: new PassThrough() };
      docker.modem.demuxStream(stream, outputs.stdout, outputs.stderr);
      for (const name of ['stdout', 'stderr'] as const) {
        const splitter = lineSplitter((line) => job.onLine?.(line, name), keep);
        outputs[name].on('data', (chunk: Buffer) => {
          const text = chunk.toString('utf8');
          tail = (tail + text).slice(-keep);
          if (job.onLine) splitter.push(text);
        });
        outputs[name].on('end', () => splitter.end());
      }
      const waiting = container.wait({ condition: 'next-exit' }) as Promise<{ StatusCode: number }>;
      await container.start();
      const stop = (error: EngineError) => {
        stopped ??= error;
        container.kill().catch(() => undefined);
      };
      const timer = setTimeout(() => stop(new EngineError('timeout', `stopped after ${Math.round(job.deadlineMs / 1000)} s (the runtime's timeout); the container was killed`, 'raise timeouts.parse or timeouts.run in the runtime file, or find what hangs')), job.deadlineMs);
      const onAbort = () => stop(new EngineError('cancelled', 'cancelled; the container was killed'));
      job.signal?.addEventListener('abort', onAbort, { once: true });
      if (job.signal?.aborted) onAbort();
      let status: { StatusCode: number };
      try {
        status = await waiting;
      } finally {
        clearTimeout(timer);
        job.signal?.removeEventListener('abort', onAbort);
      }
      (stream as NodeJS.ReadWriteStream & { destroy?: () => void }).destroy?.();
      if (stopped) throw stopped;
      const state = (await container.inspect()).State;
      if (state.OOMKilled) {
        throw new EngineError('out-of-memory', `the runtime ran out of memory (limit ${job.values.resources?.memory ?? 'none'}) and was killed`, 'raise resources.memory in the runtime file, or make the DAG file import less at parse time');
      }
      return { exitCode: status.StatusCode, tail };
    } finally {
      await container.remove({ force: true }).catch(() => undefined);
    }
  }
}
