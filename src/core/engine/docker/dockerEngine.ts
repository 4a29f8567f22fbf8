import { createHash } from 'node:crypto';
import { chmodSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import type { RuntimeValues } from '../../runtime/values';
import { CheckedTemplates } from '../checkedTemplates';
import { EngineError, isRuntimeEnded } from '../errors';
import { lineSplitter } from '../lineSplitter';
import { harnessEvent, type HarnessEvent, harnessFailure, taskStateOf, withoutEvents } from '../../harness/harnessEvents';
import { deadlineOf, type JobDeadline, PREPARE_CACHE_MS, singleDeadline, StagedDeadline } from '../deadlines';
import { CONTAINER_CACHE, CONTAINER_HARNESS, CONTAINER_OUT, harnessSetup, type HarnessSetup, parseNetworkOf, PathMap, type Placement } from '../../harness/layout';
import { ME, ownerId, ownTempDir, parseOwner, removable } from '../owner';
import { isParseResult, mapResultPaths, type ParseResult, readParseResult } from '../../harness/parseResult';
import { type DagTestRequest, type Engine, type HarnessJob, harnessRunArgs, jobName, type ParseRequest, type RenderOutcome, type RenderRequest, type RunOutcome, type RunRequest, type WorkOptions } from '../types';
import { renderThrough } from '../renderedFields';
import { retireServersAfterChange, type ServeChannel, serveArgs, startOnce, stopAll, type WarmOptions, type WarmPool, warmScope, WarmServer } from '../warm';
import { type ArchiveEntry, checkLimits, copyLimits, firstFileOf, megabytes, packEntries, snapshotTrees, type TreeSnapshot, treeChanges } from './archive';
import { dockerOptions, type EndpointCandidate, endpointCandidates } from './endpoint';
import { CONTAINER_DEBUG_PORT, CONTAINER_DEBUGPY, debuggableSetup, ensureDebugpy, freeLocalPort } from '../debugpy';
import { hardenedHostConfig } from './hardening';
import { ensureImage, imageUserOf, uidInImage } from './images';
import { containerUser, type UserChoice } from './user';

/** Labels on every container we make, so that `cleanup` and a later start can find leftovers. */
export const LABEL_MANAGED = 'airflow-runtime.managed';
export const LABEL_OWNER = 'airflow-runtime.owner';
/** The user who started it, with LABEL_OWNER's host: `cleanup` removes only this user's from this machine. */
export const LABEL_USER = 'airflow-runtime.user';
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

interface ContainerJob<T> extends WorkOptions {
  image: string;
  cmd: string[];
  values: RuntimeValues;
  setup: HarnessSetup;
  /** A parse: the runtime's start and the DAG file have their own deadlines (deadlineMs is the file's). */
  startMs?: number;
  binds: string[];
  network: string;
  deadlineMs: number;
  dagFile: string;
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** debugpy listens in the container (a `debug-listening` event). */
  onDebugListening?: (container: Docker.Container) => void;
  /** The debugged program ended by itself (a `debug-ended` event). */
  onDebugEnded?: () => void;
  /** The harness's other events (a whole-DAG run's `task` states). */
  onEvent?: (event: HarnessEvent) => void;
  /** Publish debugpy's port on 127.0.0.1 (port 0: any free one). */
  publishDebugPort?: number;
  /** Only our own step (`prepare-cache`) writes the runtime cache; everything else sees it read-only. */
  cacheWritable?: boolean;
  /** Who the container runs as (containerUser). */
  user: UserChoice;
  /** After create, before start: copy mode puts the DAG tree and the harness in here. */
  prepare?: (container: Docker.Container) => Promise<void>;
  /** After the container exited, before it is removed: copy mode takes the result file out here. */
  collect?: (container: Docker.Container) => Promise<T>;
}

/** Copy mode's state for a warm container: what it holds, so that each request sends only what changed. */
interface RemoteCopy {
  container: Docker.Container;
  sources: Placement[];
  copied: Map<string, ArchiveEntry>;
  syncing: Promise<void>;
}

/** The harness's variable for the checked template hashes (env.py CHECKED_TEMPLATES). */
const CHECKED_TEMPLATES = 'AIRFLOW_RUNTIME_TEMPLATE_HASHES';

/** Where the harness writes results, as a folder anyone may write to (the image's user may not be root). */
const OUT_FOLDER = { name: CONTAINER_OUT.slice(1), mode: 0o777 };

/** The Docker engine: each parse or run in a fresh, labelled container of the DAG file's runtime image. */
export class DockerEngine implements Engine {
  readonly kind = 'docker' as const;
  private readonly pulled = new Set<string>();
  private swept = false;
  private readonly warmServers: WarmPool<{ server: WarmServer }> = new Map();
  private readonly remoteCopies = new WeakMap<WarmServer, RemoteCopy>();

  /** Template DB hashes by image (CheckedTemplates). */
  private readonly templates: CheckedTemplates;

  constructor(readonly connection: DockerConnection, private readonly options: WarmOptions = {}) {
    this.templates = new CheckedTemplates('docker', connection.endpoint.url);
  }

  describe(): string {
    const remote = this.connection.local ? '' : ', remote: DAG files are copied in';
    return `docker at ${this.connection.endpoint.url} (${this.connection.endpoint.origin}), engine ${this.connection.version}${remote}${this.options.warm ? ', warm' : ''}`;
  }

  /** Bind mounts see this machine's files only when the engine runs here; a remote one gets copies. */
  private get copyMode(): boolean {
    return !this.connection.local;
  }

  async parse(request: ParseRequest): Promise<ParseResult> {
    return this.withCheckedCache(request, () => this.parseOnce(request));
  }

  private async parseOnce(request: ParseRequest): Promise<ParseResult> {
    const started = Date.now();
    const { values } = request.runtime;
    const image = await ensureImage(this.connection.docker, values, this.pulled, request);
    const map = this.pathMap(request);
    const deadlineMs = deadlineOf(values, 'parse');
    const setup = this.setup(request);
    const user = await this.userFor(image, request);
    if (this.options.warm && !request.cold && !request.debug) {
      let result: ParseResult;
      try {
        result = await this.parseWarm(image, user, map, request, deadlineMs);
      } catch (error) {
        if (!isRuntimeEnded(error)) throw error;
        return this.parse({ ...request, cold: true }); // it may be the file that ended it: alone, it says so
      }
      const mapped = mapResultPaths(result, (p) => map.toHost(p), (t) => map.rewriteText(t));
      return { ...mapped, engine: { kind: this.kind, detail: `${image} via ${this.connection.endpoint.url}, warm, as ${user.describe}`, totalMs: Date.now() - started } };
    }
    const copy = this.copyMode ? this.snapshot(request) : undefined;
    const outDir = copy ? undefined : ownTempDir('parse');
    if (outDir) chmodSync(outDir, 0o777); // the image's user may not be root
    const out = `${CONTAINER_OUT}/result.json`;
    try {
      request.onProgress?.({ stage: 'parse', message: `parsing ${path.basename(request.dagFile)} in ${image}` });
      // A person stepping through the file has the run's deadline, not the parse's, and the run's network
      // (the debugger connects over it).
      const startMs = request.debug ? undefined : deadlineOf(values, 'start');
      const network = request.debug ? values.network ?? 'bridge' : parseNetworkOf(request.runtime);
      const debug = request.debug && await this.debugJob(request, setup, network);
      const { exitCode, tail, collected: result, failure, started: fileStarted } = await this.runContainer({
        ...request, image, values, setup: debug ? debug.setup : setup, user, dagFile: request.dagFile,
        deadlineMs: debug ? deadlineOf(values, 'run') : deadlineMs, startMs, network,
        publishDebugPort: debug ? debug.publishDebugPort : undefined, onDebugListening: debug ? debug.onDebugListening : undefined, onDebugEnded: debug ? debug.onDebugEnded : undefined,
        binds: outDir ? [...this.binds(request), `${outDir}:${CONTAINER_OUT}`, ...(debug ? [debug.bind] : [])] : [],
        prepare: copy && ((container) => this.copyIn(container, copy, request)),
        collect: (container) => (outDir ? Promise.resolve(readParseResult(path.join(outDir, 'result.json'))) : this.resultFrom(container, out)),
        cmd: ['python', '-m', 'airflow_runtime_harness', 'parse', '--file', map.toRuntime(request.dagFile),
          '--dags-folder', setup.dagsFolder, '--out', out,
          '--timeout', String(deadlineMs / 1000), '--start-timeout', String((startMs ?? deadlineMs) / 1000)],
      });
      if (!result || exitCode === 2 || failure) {
        throw harnessFailure({ code: exitCode, failure: failure && { ...failure, message: failure.message && map.rewriteText(failure.message) }, started: fileStarted, tail: map.rewriteText(tail) },
          { what: `the harness could not parse ${request.dagFile} in ${image}`, runtime: image, startMs, starting: "the container's start and Airflow's import" });
      }
      const mapped = mapResultPaths(result, (p) => map.toHost(p), (t) => map.rewriteText(t));
      return { ...mapped, engine: { kind: this.kind, detail: `${image} via ${this.connection.endpoint.url}${copy ? `, ${copiedSummary(copy)}` : ''}, as ${user.describe}`, totalMs: Date.now() - started } };
    } finally {
      if (outDir) rmSync(outDir, { recursive: true, force: true });
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

  /** A task run, a whole-DAG run (`test-dag`) or a render, in a fresh container. */
  private async runOnce(job: HarnessJob, onEvent?: (event: HarnessEvent) => void): Promise<RunOutcome> {
    const { request } = job;
    const began = Date.now();
    const { values } = request.runtime;
    const image = await ensureImage(this.connection.docker, values, this.pulled, request);
    const map = this.pathMap(request);
    const setup = this.setup(request);
    const cmd = ['python', '-m', 'airflow_runtime_harness', ...harnessRunArgs(job, map.toRuntime(request.dagFile), setup.dagsFolder)];
    const user = await this.userFor(image, request);
    const copy = this.copyMode ? this.snapshot(request) : undefined;
    const network = values.network ?? 'bridge';
    const debug = job.verb === 'run' && job.request.debug ? await this.debugJob(job.request, setup, network) : undefined;
    const onTask = job.verb === 'test-dag' ? job.request.onTask : undefined;
    const { exitCode, tail, failure, started } = await this.runContainer({
      ...request, image, values, setup: debug ? debug.setup : setup, user, cmd, dagFile: request.dagFile, network,
      publishDebugPort: debug ? debug.publishDebugPort : undefined, onDebugListening: debug ? debug.onDebugListening : undefined, onDebugEnded: debug ? debug.onDebugEnded : undefined,
      binds: copy ? [] : [...this.binds(request), ...(debug ? [debug.bind] : [])],
      prepare: copy && ((container) => this.copyIn(container, copy, request)),
      deadlineMs: deadlineOf(values, 'run'),
      onLine: (line, stream) => request.onLog?.(map.rewriteText(line), stream),
      onEvent: (event) => {
        const task = taskStateOf(event);
        if (task) onTask?.(task);
        onEvent?.({ ...event, message: event.message && map.rewriteText(event.message) });
      },
    });
    if (exitCode === 0 || exitCode === 1) return { exitCode, durationMs: Date.now() - began };
    throw harnessFailure({ code: exitCode, failure: failure && { ...failure, message: failure.message && map.rewriteText(failure.message) }, started, tail: map.rewriteText(tail) },
      { what: `${jobName(job)} could not be run in ${image}`, runtime: image });
  }

  retireWarmRuntimes(changedFile?: string, changedAt?: number): number {
    return retireServersAfterChange(this.warmServers, changedFile, changedAt);
  }

  async dispose(): Promise<void> {
    await stopAll(this.warmServers);
  }

  /** The runtime's cache as CheckedTemplates keeps it: prepared once per image, checked before each use. */
  private async withCheckedCache<T>(request: ParseRequest | RunRequest, work: () => Promise<T>): Promise<T> {
    const image = await ensureImage(this.connection.docker, request.runtime.values, this.pulled, request);
    return this.templates.around(image, () => this.prepareCache(image, request), work);
  }

  /** Our own step: a container of the image with the cache writable that migrates the template DB and hashes it. */
  private async prepareCache(image: string, request: ParseRequest | RunRequest): Promise<Record<string, string>> {
    request.onProgress?.({ stage: 'migrate', message: `preparing the runtime cache for ${image} (airflow db migrate, once)` });
    const { values } = request.runtime;
    // the harness alone, copied or mounted
    const harnessOnly = this.cacheStepSetup(request).placements;
    const copy = this.copyMode ? snapshotTrees(harnessOnly) : undefined;
    let reply = '';
    const { exitCode, tail, failure } = await this.runContainer({
      ...request, image, values, setup: this.cacheStepSetup(request), dagFile: request.dagFile, cacheWritable: true,
      // the volume is root's; no DAG code runs in this step, and nothing of the project is there to run
      user: { user: '0:0', describe: 'root (our own cache step)' },
      cmd: ['python', '-m', 'airflow_runtime_harness', 'prepare-cache'],
      network: 'none', binds: copy ? [] : harnessOnly.map((p) => `${p.host}:${p.target}:ro`), deadlineMs: PREPARE_CACHE_MS,
      prepare: copy && ((container) => this.copyIn(container, copy, request)),
      onLine: (line, stream) => { if (stream === 'stdout' && line.startsWith('{')) reply = line; },
    });
    try {
      if (exitCode === 0) return (JSON.parse(reply) as { templates: Record<string, string> }).templates;
    } catch {
      // said below
    }
    throw harnessFailure({ code: exitCode, failure, tail }, { what: `the runtime cache for ${image} could not be prepared`, runtime: image });
  }

  /**
   * Once per engine, in the background: removes this user's containers from this machine that have exited
   * and whose owner is gone (a CLI killed with -9 leaves its last cold container exited, not running).
   */
  private sweep(): void {
    if (this.swept) return;
    this.swept = true;
    void removeOrphans(this.connection.docker, { exitedOnly: true }).catch(() => undefined);
  }

  /**
   * One warm container per image, DAG root and container settings; started on first use, reused after.
   * On a remote engine the DAG tree is copied in at start, and what changed since is sent before each request.
   */
  private async parseWarm(image: string, user: UserChoice, map: PathMap, request: ParseRequest, deadlineMs: number): Promise<ParseResult> {
    const { values } = request.runtime;
    const binds = this.binds(request);
    const setup = this.setup(request);
    const dagsFolder = setup.dagsFolder;
    const spec = this.containerSpec({ image, values, setup, user, binds, network: parseNetworkOf(request.runtime), dagFile: request.dagFile, cmd: ['python', ...serveArgs(this.options)] });
    // The binds name the host folders, so they key copy mode's containers too.
    const key = createHash('sha256').update(JSON.stringify([spec.Image, spec.User, spec.Env, binds, spec.HostConfig])).digest('hex');
    const entry = await startOnce(this.warmServers, key, async () => {
      request.onProgress?.({ stage: 'start', message: `starting ${image}: the container, then Airflow's import (once per runtime)` });
      const copy = this.copyMode ? this.snapshot(request) : undefined;
      spec.HostConfig!.Binds = copy ? [] : binds;
      spec.Labels![LABEL_DAG_FILE] = `warm:${map.toHost(dagsFolder)}`;
      const { channel, container } = await this.serveContainer(spec, copy && ((c) => this.copyIn(c, copy, request)));
      const server = new WarmServer(channel, this.options.idleMs ?? 600_000, () => {
        void this.warmServers.get(key)?.then((current) => current.server === server && this.warmServers.delete(key));
      }, deadlineOf(values, 'start'), "the container's start and Airflow's import");
      if (copy) this.remoteCopies.set(server, { container, sources: this.placements(request), copied: copy.entries, syncing: Promise.resolve() });
      return { server };
    }, warmScope(request.runtime, this.placements(request)[0].host));
    const remote = this.remoteCopies.get(entry.server);
    if (remote) await this.syncCopy(remote);
    // The result comes back in the reply: no result file to share with a server that may stop right after.
    const result = await entry.server.parse({ file: map.toRuntime(request.dagFile), dagsFolder, timeoutSeconds: deadlineMs / 1000 }, deadlineMs, request.signal);
    if (!result) throw new EngineError('harness-failed', `the warm harness sent no result for ${request.dagFile}`);
    return result;
  }

  /** Sends a warm container what changed in its trees since the last request, one sync at a time. */
  private syncCopy(copy: RemoteCopy): Promise<void> {
    const sync = copy.syncing.then(async () => {
      const snapshot = snapshotTrees(copy.sources);
      checkLimits(snapshot, copy.sources.map((s) => s.host), copyLimits());
      const { changed, removed } = treeChanges(copy.copied, snapshot.entries);
      const doomed = removed.map((name) => `/${name}`);
      if (doomed.length) await this.exec(copy.container, ['rm', '-rf', '--', ...doomed]);
      if (changed.length) await copy.container.putArchive(packEntries(changed), { path: '/' });
      copy.copied = snapshot.entries;
    });
    copy.syncing = sync.catch(() => undefined);
    return sync;
  }

  /** Runs a command as root in a running container and waits for it (copy mode's deletions). */
  private async exec(container: Docker.Container, cmd: string[]): Promise<void> {
    const exec = await container.exec({ Cmd: cmd, User: '0', AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    let output = '';
    await new Promise<void>((resolve) => {
      stream.on('data', (chunk: Buffer) => { output = (output + chunk.toString('utf8')).slice(-4096); });
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
    });
    const { ExitCode } = await exec.inspect();
    if (ExitCode !== 0) throw new EngineError('harness-failed', `\`${cmd.join(' ')}\` failed in the warm container (exit ${ExitCode}): ${output.trim()}`);
  }

  /** What bind mounts would show, as a snapshot to copy: refused when too big, with what to move. */
  private snapshot(request: ParseRequest | RunRequest): TreeSnapshot {
    const sources = this.placements(request);
    const snapshot = snapshotTrees(sources);
    checkLimits(snapshot, sources.map((s) => s.host), copyLimits());
    return snapshot;
  }

  private async copyIn(container: Docker.Container, snapshot: TreeSnapshot, request: WorkOptions): Promise<void> {
    request.onProgress?.({ stage: 'copy', message: `copying ${copiedSummary(snapshot)} to ${this.connection.endpoint.url}` });
    try {
      await container.putArchive(packEntries(snapshot.entries.values(), [OUT_FOLDER]), { path: '/' });
    } catch (error) {
      throw new EngineError('harness-failed', `could not copy the DAG tree into the container on ${this.connection.endpoint.url}: ${(error as Error).message}`);
    }
  }

  /** The result file from inside a container (running or exited); undefined when the harness wrote none. */
  private async resultFrom(container: Docker.Container, file: string): Promise<ParseResult | undefined> {
    let content: Buffer | undefined;
    try {
      content = await firstFileOf(await container.getArchive({ path: file }));
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
    try {
      const parsed: unknown = content && JSON.parse(content.toString('utf8'));
      return isParseResult(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }

  private pathMap(request: ParseRequest | RunRequest): PathMap {
    return new PathMap(this.placements(request).map((p) => ({ host: p.host, runtime: p.target })));
  }

  private setup(request: ParseRequest | RunRequest): HarnessSetup {
    return harnessSetup(request.runtime, request.dagFile, 'docker', { PYTHONUNBUFFERED: '1', AIRFLOW_RUNTIME_CACHE: CONTAINER_CACHE });
  }

  /**
   * Our cache step runs as root with the cache writable: it sees the harness and nothing of the project (no
   * runtime env, no project folder on sys.path or mounted, not the project's folder as its own), so that no
   * `sitecustomize.py` or `airflow_local_settings.py` of a workspace runs there.
   */
  private cacheStepSetup(request: ParseRequest | RunRequest): HarnessSetup {
    const setup = this.setup(request);
    return {
      ...setup,
      placements: setup.placements.filter((p) => p.target === CONTAINER_HARNESS),
      env: { PYTHONUNBUFFERED: '1', PYTHONNOUSERSITE: '1', AIRFLOW_RUNTIME_CACHE: CONTAINER_CACHE, PYTHONPATH: CONTAINER_HARNESS },
      workingDir: '/tmp',
    };
  }

  /**
   * The DAG root at dagsFolder, the project's folders beside it (plugins/, include/...), the harness, the
   * runtime's extra mounts: bound here, copied to remote engines.
   */
  private placements(request: ParseRequest | RunRequest): Placement[] {
    return [
      ...this.setup(request).placements,
      ...(request.runtime.values.mounts ?? []).map((m) => ({ host: m.source, target: m.target, readOnly: m.readOnly !== false })),
    ];
  }

  private binds(request: ParseRequest | RunRequest): string[] {
    return this.placements(request).map((p) => `${p.host}:${p.target}${p.readOnly ? ':ro' : ''}`);
  }

  /**
   * What a debug run or parse adds to its container: debugpy mounted read-only, its port published on 127.0.0.1
   * only (on the host's network: a free loopback port), and the client told where to connect once it listens.
   */
  private async debugJob(request: ParseRequest | RunRequest, setup: HarnessSetup, network: string): Promise<{ setup: HarnessSetup; bind: string; publishDebugPort?: number; onDebugListening: (container: Docker.Container) => void; onDebugEnded: () => void }> {
    const debug = request.debug!;
    if (this.copyMode) {
      throw new EngineError('bad-runtime', `debugging needs a Docker engine on this machine: ${this.connection.endpoint.url} is remote, and a port opened there would not be this machine's`,
        'debug with --engine local (or the local runtime emulator in the editor), or with a Docker engine on this machine');
    }
    if (network === 'none') {
      throw new EngineError('bad-runtime', 'debugging needs a network in the runtime: with `network: none` there is no port for the debugger to reach', 'leave `network` out of the runtime file (bridge) while you debug');
    }
    const folder = await ensureDebugpy(request);
    const onHostNetwork = network === 'host';
    const port = onHostNetwork ? debug.port ?? await freeLocalPort() : CONTAINER_DEBUG_PORT;
    const mounts = (request.runtime.values.mounts ?? []).map((m) => ({ host: m.source, target: m.target }));
    return {
      bind: `${folder}:${CONTAINER_DEBUGPY}:ro`,
      setup: debuggableSetup(setup, folder, 'docker', { host: onHostNetwork ? '127.0.0.1' : '0.0.0.0', port }, mounts),
      publishDebugPort: onHostNetwork ? undefined : debug.port ?? 0,
      onDebugEnded: () => debug.onEnded?.(),
      onDebugListening: (container) => void (async () => {
        if (onHostNetwork) return debug.onReady({ host: '127.0.0.1', port });
        const info = await container.inspect();
        const published = info.NetworkSettings.Ports?.[`${CONTAINER_DEBUG_PORT}/tcp`]?.[0]?.HostPort;
        debug.onReady({ host: '127.0.0.1', port: Number(published) });
      })(),
    };
  }

  /** containerUser for this image and runtime; a local daemon's root image runs as this person's uid. */
  private async userFor(image: string, request: ParseRequest | RunRequest): Promise<UserChoice> {
    const { values, sources, hostAccess } = request.runtime;
    const asked = values.user === undefined ? undefined
      : { value: String(values.user), source: sources.user, uidInImage: await uidInImage(this.connection.docker, image, String(values.user)) };
    const hostUid = this.connection.local ? process.getuid?.() : undefined;
    return containerUser({ imageUser: await imageUserOf(this.connection.docker, image), asked, hostAccess, hostUid });
  }

  private containerSpec(job: Pick<ContainerJob<unknown>, 'image' | 'cmd' | 'values' | 'setup' | 'user' | 'binds' | 'network' | 'dagFile' | 'cacheWritable' | 'publishDebugPort'>): Docker.ContainerCreateOptions {
    const debugPort = `${CONTAINER_DEBUG_PORT}/tcp`;
    return {
      Image: job.image,
      Cmd: job.cmd,
      // the project root in the runtime, as the images' own WORKDIR: never the folder the parse was started from
      WorkingDir: job.setup.workingDir,
      ...(job.user.user ? { User: job.user.user } : {}),
      Env: [
        ...Object.entries({ ...job.user.env, ...job.setup.env }).map(([k, v]) => `${k}=${v}`),
        ...(job.cacheWritable ? [] : [`${CHECKED_TEMPLATES}=${JSON.stringify(this.templates.current(job.image))}`]),
      ],
      Labels: { [LABEL_MANAGED]: 'true', [LABEL_OWNER]: ownerId(), [LABEL_USER]: ME.user, [LABEL_DAG_FILE]: job.dagFile },
      // Our end of the attached stdin closes when we end, however we end (kill -9 too): the harness sees
      // its stdin close and stops, so no container outlives its owner (StdinOnce: closed when we detach).
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      ...(job.publishDebugPort !== undefined ? { ExposedPorts: { [debugPort]: {} } } : {}),
      HostConfig: {
        Binds: job.binds,
        // on 127.0.0.1 only: a debugger can run any code in the runtime
        ...(job.publishDebugPort !== undefined ? { PortBindings: { [debugPort]: [{ HostIp: '127.0.0.1', HostPort: job.publishDebugPort ? String(job.publishDebugPort) : '' }] } } : {}),
        Mounts: [{ Type: 'volume', Source: CACHE_VOLUME, Target: CONTAINER_CACHE, ReadOnly: !job.cacheWritable }],
        NetworkMode: job.network,
        ...hardenedHostConfig(job.values.resources),
      },
    };
  }

  /** A warm harness (`serve`) in a long-lived container, talked to over its attached stdin and stdout. */
  private async serveContainer(spec: Docker.ContainerCreateOptions, prepare?: (container: Docker.Container) => Promise<void>): Promise<{ channel: ServeChannel; container: Docker.Container }> {
    const { docker } = this.connection;
    this.sweep();
    // Removed by Docker when it exits: a warm container whose owner died ends (stdin closed) and is gone.
    const container = await docker.createContainer({ ...spec, HostConfig: { ...spec.HostConfig, AutoRemove: true } });
    try {
      await prepare?.(container);
    } catch (error) {
      await container.remove({ force: true }).catch(() => undefined);
      throw error;
    }
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
    const channel: ServeChannel = {
      send: (line) => stream.write(`${line}\n`),
      onLine: (listener) => createInterface({ input: stdout }).on('line', listener),
      ended,
      tail: () => tail,
      async stop() {
        await container.remove({ force: true }).catch(() => undefined);
        await ended;
      },
    };
    return { channel, container };
  }

  /**
   * create, attach and demultiplex, wait (next-exit), start; kill on deadline or abort; remove in finally.
   * A parse (startMs set) has two deadlines: the runtime's start, then the DAG file's from the harness's
   * `started` event on.
   */
  private async runContainer<T>(job: ContainerJob<T>): Promise<{ exitCode: number; tail: string; collected?: T; failure?: HarnessEvent; started: boolean }> {
    const { docker } = this.connection;
    this.sweep();
    const container = await docker.createContainer(this.containerSpec(job));
    let tail = '';
    let stopped: EngineError | undefined;
    let failure: HarnessEvent | undefined;
    let started = false;
    let deadline: JobDeadline | undefined;
    const keep = 16_384;
    try {
      const stream = await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
      stream.on('error', () => undefined); // the container's end is reported by its wait
      const outputs = { stdout: new PassThrough(), stderr: new PassThrough() };
      docker.modem.demuxStream(stream, outputs.stdout, outputs.stderr);
      for (const name of ['stdout', 'stderr'] as const) {
        const splitter = lineSplitter((line) => {
          const event = name === 'stderr' ? harnessEvent(line) : undefined;
          if (event?.event === 'started') {
            started = true;
            deadline?.started();
          } else if (event?.event === 'error') failure = event;
          else if (event?.event === 'debug-listening') job.onDebugListening?.(container);
          else if (event?.event === 'debug-ended') job.onDebugEnded?.();
          else if (event) job.onEvent?.(event);
          else job.onLine?.(line, name);
        }, keep);
        outputs[name].on('data', (chunk: Buffer) => {
          const text = chunk.toString('utf8');
          tail = (tail + text).slice(-keep);
          splitter.push(text);
        });
        outputs[name].on('end', () => splitter.end());
      }
      const waiting = container.wait({ condition: 'next-exit' }) as Promise<{ StatusCode: number }>;
      waiting.catch(() => undefined); // a container that never starts is removed, and its wait fails
      await job.prepare?.(container);
      const stop = (error: EngineError) => {
        stopped ??= error;
        container.kill().catch(() => undefined);
      };
      deadline = job.startMs !== undefined
        ? new StagedDeadline(job.startMs, job.deadlineMs, stop, "the container's start and Airflow's import")
        : singleDeadline(job.deadlineMs, stop, 'the container was killed');
      await container.start();
      const onAbort = () => stop(new EngineError('cancelled', 'cancelled; the container was killed'));
      job.signal?.addEventListener('abort', onAbort, { once: true });
      if (job.signal?.aborted) onAbort();
      let status: { StatusCode: number };
      try {
        status = await waiting;
      } finally {
        deadline.clear();
        job.signal?.removeEventListener('abort', onAbort);
      }
      (stream as NodeJS.ReadWriteStream & { destroy?: () => void }).destroy?.();
      if (stopped) throw stopped;
      const state = (await container.inspect()).State;
      if (state.OOMKilled) {
        throw new EngineError('out-of-memory', `the runtime ran out of memory (limit ${job.values.resources?.memory ?? '4g, the default'}) and was killed`, 'raise resources.memory in the runtime file, or make the DAG file import less at parse time');
      }
      return { exitCode: status.StatusCode, tail: withoutEvents(tail), collected: await job.collect?.(container), failure, started };
    } finally {
      deadline?.clear();
      await container.remove({ force: true }).catch(() => undefined);
    }
  }
}

function copiedSummary(snapshot: TreeSnapshot): string {
  const skipped = snapshot.skipped.length ? `; skipped ${snapshot.skipped.map((p) => path.basename(p)).filter((n, i, all) => all.indexOf(n) === i).join(', ')}` : '';
  return `copied ${snapshot.files} files (${megabytes(snapshot.bytes)})${skipped}`;
}

export interface OurContainer {
  id: string;
  image: string;
  state: string;
  owner: string;
  /** Ours (this user, this machine) and, unless `all`, its owner gone. */
  removable: boolean;
}

/** Every container airflow-runtime started, on this engine, with whether `cleanup` may remove it. */
export async function ourContainers(docker: Docker, all: boolean): Promise<OurContainer[]> {
  const listed = await docker.listContainers({ all: true, filters: { label: [`${LABEL_MANAGED}=true`] } });
  return listed.map((info) => {
    const owner = parseOwner(info.Labels[LABEL_OWNER], info.Labels[LABEL_USER]);
    const user = info.Labels[LABEL_USER] ?? 'an unknown user';
    return { id: info.Id, image: info.Image, state: info.State, owner: `${user} on ${info.Labels[LABEL_OWNER] ?? 'an unknown host'}`, removable: removable(owner, all) };
  });
}

/** Removes the containers `cleanup` may remove; returns them. */
export async function removeOrphans(docker: Docker, options: { all?: boolean; exitedOnly?: boolean; dryRun?: boolean } = {}): Promise<OurContainer[]> {
  const doomed = (await ourContainers(docker, options.all ?? false)).filter((c) => c.removable && (!options.exitedOnly || c.state === 'exited'));
  if (!options.dryRun) await Promise.all(doomed.map((c) => docker.getContainer(c.id).remove({ force: true }).catch(() => undefined)));
  return doomed;
}
