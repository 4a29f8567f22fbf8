import { createHash } from 'node:crypto';
import { chmodSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import type Docker from 'dockerode';
import { CheckedTemplates, type TemplateHashes } from '../checkedTemplates';
import { EngineError } from '../errors';
import type { HarnessEvent } from '../../harness/harnessEvents';
import { deadlineOf, PREPARE_CACHE_MS } from '../deadlines';
import { harnessParseArgs, HarnessEngine, type HarnessJobEnd, parsedOrFailure, parseOnWarm, preparedTemplates } from '../harnessEngine';
import { CONTAINER_CACHE, CONTAINER_HARNESS, CONTAINER_OUT, harnessSetup, type HarnessSetup, parseNetworkOf, PathMap, type Placement } from '../../harness/layout';
import { ownTempDir } from '../owner';
import { runtimeCacheOwner } from '../sharedRuntimeCache';
import { mapResultPaths, type ParseResult, readParseResult } from '../../harness/parseResult';
import { type HarnessJob, harnessRunArgs, type ParseRequest, type RunRequest } from '../types';
import { type ServeChannel, serveArgs, type WarmOptions, warmScope, type WarmServer } from '../warm';
import { snapshotTrees } from './archive';
import type { DockerConnection } from './connect';
import { type ContainerJob, type ContainerOutcome, runContainerJob, serveContainer } from './containerJob';
import { containerSpec, type ContainerSpecInput } from './containerSpec';
import { CONTAINER_DEBUG_PORT, CONTAINER_DEBUGPY, debuggableSetup, ensureDebugpy, freeLocalPort } from '../debugpy';
import { ensureImage, imageUserOf, uidInImage } from './images';
import { LABEL_DAG_FILE, orphanSweep } from './ourContainers';
import { copiedSummary, copyIn, type RemoteCopy, resultFrom, snapshotToCopy, syncCopy } from './remoteCopy';
import { containerUser, type UserChoice } from './user';

/** What a parse in this engine's runtime needs, warm or cold: the image, its paths, its layout, its user. */
interface ParseContext {
  image: string;
  map: PathMap;
  setup: HarnessSetup;
  user: UserChoice;
  deadlineMs: number;
}

/** The Docker engine: each parse or run in a fresh, labelled container of the DAG file's runtime image. */
export class DockerEngine extends HarnessEngine<{ server: WarmServer; remote?: RemoteCopy }> {
  readonly kind = 'docker' as const;
  private readonly pulled = new Set<string>();
  /** Before the first container: this user's leftovers from this machine go (ourContainers.ts). */
  private readonly sweep: () => void;

  constructor(readonly connection: DockerConnection, options: WarmOptions = {}) {
    // template DB hashes by image, per endpoint (CheckedTemplates)
    super(options, new CheckedTemplates('docker', connection.endpoint.url));
    this.sweep = orphanSweep(connection.docker);
  }

  describe(): string {
    const remote = this.connection.local ? '' : ', remote: DAG files are copied in';
    return `docker at ${this.connection.endpoint.url} (${this.connection.endpoint.origin}), engine ${this.connection.version}${remote}${this.options.warm ? ', warm' : ''}`;
  }

  /** Bind mounts see this machine's files only when the engine runs here; a remote one gets copies. */
  private get copyMode(): boolean {
    return !this.connection.local;
  }

  protected runtimeOf(request: ParseRequest | RunRequest): Promise<string> {
    return ensureImage(this.connection.docker, request.runtime.values, this.pulled, request);
  }

  private async parseContext(request: ParseRequest): Promise<ParseContext> {
    const image = await this.runtimeOf(request);
    return { image, map: this.pathMap(request), setup: this.setup(request), user: await this.userFor(image, request), deadlineMs: deadlineOf(request.runtime.values, 'parse') };
  }

  protected async parseCold(request: ParseRequest): Promise<ParseResult> {
    const started = Date.now();
    const { image, map, setup, user, deadlineMs } = await this.parseContext(request);
    const { values } = request.runtime;
    const copy = this.copyMode ? snapshotToCopy(this.placements(request)) : undefined;
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
      const outcome = await this.runContainer({
        ...request, image, values, setup: debug ? debug.setup : setup, user, dagFile: request.dagFile,
        deadlineMs: debug ? deadlineOf(values, 'run') : deadlineMs, startMs, network,
        publishDebugPort: debug ? debug.publishDebugPort : undefined, onDebugListening: debug ? debug.onDebugListening : undefined, onDebugEnded: debug ? debug.onDebugEnded : undefined,
        binds: outDir ? [...this.binds(request), `${outDir}:${CONTAINER_OUT}`, ...(debug ? [debug.bind] : [])] : [],
        prepare: copy && ((container) => copyIn(container, copy, this.connection.endpoint.url, request)),
        collect: (container) => (outDir ? Promise.resolve(readParseResult(path.join(outDir, 'result.json'))) : resultFrom(container, out)),
        cmd: ['python', '-m', 'airflow_runtime_harness', ...harnessParseArgs(map.toRuntime(request.dagFile), setup.dagsFolder, out, deadlineMs, startMs ?? deadlineMs)],
      });
      const result = parsedOrFailure(outcome.collected, hostEnd(outcome, map),
        { what: `the harness could not parse ${request.dagFile} in ${image}`, runtime: image, startMs, starting: "the container's start and Airflow's import" });
      const mapped = mapResultPaths(result, (p) => map.toHost(p), (t) => map.rewriteText(t));
      return { ...mapped, engine: { kind: this.kind, detail: `${image} via ${this.connection.endpoint.url}${copy ? `, ${copiedSummary(copy)}` : ''}, as ${user.describe}`, totalMs: Date.now() - started } };
    } finally {
      if (outDir) rmSync(outDir, { recursive: true, force: true });
    }
  }

  /** A task run, a whole-DAG run (`test-dag`) or a render, in a fresh container. */
  protected async runJob(job: HarnessJob, onEvent: (event: HarnessEvent) => void): Promise<HarnessJobEnd> {
    const { request } = job;
    const { values } = request.runtime;
    const image = await this.runtimeOf(request);
    const map = this.pathMap(request);
    const setup = this.setup(request);
    const cmd = ['python', '-m', 'airflow_runtime_harness', ...harnessRunArgs(job, map.toRuntime(request.dagFile), setup.dagsFolder)];
    const user = await this.userFor(image, request);
    const copy = this.copyMode ? snapshotToCopy(this.placements(request)) : undefined;
    const network = values.network ?? 'bridge';
    const debug = job.verb === 'run' && job.request.debug ? await this.debugJob(job.request, setup, network) : undefined;
    const outcome = await this.runContainer({
      ...request, image, values, setup: debug ? debug.setup : setup, user, cmd, dagFile: request.dagFile, network,
      publishDebugPort: debug ? debug.publishDebugPort : undefined, onDebugListening: debug ? debug.onDebugListening : undefined, onDebugEnded: debug ? debug.onDebugEnded : undefined,
      binds: copy ? [] : [...this.binds(request), ...(debug ? [debug.bind] : [])],
      prepare: copy && ((container) => copyIn(container, copy, this.connection.endpoint.url, request)),
      deadlineMs: deadlineOf(values, 'run'),
      onLine: (line, stream) => request.onLog?.(map.rewriteText(line), stream),
      onEvent: (event) => onEvent({ ...event, message: event.message && map.rewriteText(event.message) }),
    });
    return { end: hostEnd(outcome, map), runtime: image, where: `in ${image}` };
  }

  /** Our own step: a container of the image with the cache writable that migrates the template DB and hashes it. */
  protected async prepareCache(image: string, request: ParseRequest | RunRequest): Promise<TemplateHashes> {
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
      prepare: copy && ((container) => copyIn(container, copy, this.connection.endpoint.url, request)),
      onLine: (line, stream) => { if (stream === 'stdout' && line.startsWith('{')) reply = line; },
    });
    return preparedTemplates({ code: exitCode, failure, tail }, reply, { what: `the runtime cache for ${image} could not be prepared`, runtime: image });
  }

  /**
   * One warm container per image, DAG root and container settings; started on first use, reused after.
   * On a remote engine the DAG tree is copied in at start, and what changed since is sent before each request.
   */
  protected async parseWarm(request: ParseRequest): Promise<ParseResult> {
    const started = Date.now();
    const { image, map, setup, user, deadlineMs } = await this.parseContext(request);
    const { values } = request.runtime;
    const binds = this.binds(request);
    const dagsFolder = setup.dagsFolder;
    const spec = this.spec({ image, values, setup, user, binds, network: parseNetworkOf(request.runtime), dagFile: request.dagFile, cmd: ['python', ...serveArgs(this.options)] });
    // The binds name the host folders, so they key copy mode's containers too.
    const key = createHash('sha256').update(JSON.stringify([spec.Image, spec.User, spec.Env, binds, spec.HostConfig])).digest('hex');
    const entry = await this.warmServer(key, warmScope(request.runtime, this.placements(request)[0].host), deadlineOf(values, 'start'), async (serve) => {
      request.onProgress?.({ stage: 'start', message: `starting ${image}: the container, then Airflow's import (once per runtime)` });
      const copy = this.copyMode ? snapshotToCopy(this.placements(request)) : undefined;
      spec.HostConfig!.Binds = copy ? [] : binds;
      spec.Labels![LABEL_DAG_FILE] = `warm:${map.toHost(dagsFolder)}`;
      const { channel, container } = await this.serve(spec, copy && ((c) => copyIn(c, copy, this.connection.endpoint.url, request)));
      const server = serve(channel, "the container's start and Airflow's import");
      return { server, remote: copy && { container, sources: this.placements(request), copied: copy.entries, syncing: Promise.resolve() } };
    });
    if (entry.remote) await syncCopy(entry.remote);
    const result = await parseOnWarm(entry.server, request, map.toRuntime(request.dagFile), dagsFolder, deadlineMs);
    const mapped = mapResultPaths(result, (p) => map.toHost(p), (t) => map.rewriteText(t));
    return { ...mapped, engine: { kind: this.kind, detail: `${image} via ${this.connection.endpoint.url}, warm, as ${user.describe}`, totalMs: Date.now() - started } };
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

  /** A one-off container of this engine: its spec (the checked template hashes in it), then the sequence. */
  private runContainer<T>(job: ContainerSpecInput & ContainerJob<T>): Promise<ContainerOutcome<T>> {
    this.sweep();
    return runContainerJob(this.connection.docker, this.spec(job), { ...job, memory: job.values.resources?.memory });
  }

  private spec(input: ContainerSpecInput): Docker.ContainerCreateOptions {
    return containerSpec({ ...input, templates: input.cacheWritable ? undefined : this.templates.current(runtimeCacheOwner(input.image)) });
  }

  private serve(spec: Docker.ContainerCreateOptions, prepare?: (container: Docker.Container) => Promise<void>): Promise<{ channel: ServeChannel; container: Docker.Container }> {
    this.sweep();
    return serveContainer(this.connection.docker, spec, prepare);
  }
}

/** How a container job ended, with the runtime's paths in the harness's account and the tail as the host sees them. */
function hostEnd(outcome: ContainerOutcome<unknown>, map: PathMap): { code: number; failure?: HarnessEvent; started: boolean; tail: string } {
  const { exitCode, failure, started, tail } = outcome;
  return { code: exitCode, failure: failure && { ...failure, message: failure.message && map.rewriteText(failure.message) }, started, tail: map.rewriteText(tail) };
}
