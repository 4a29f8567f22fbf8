/**
 * `up` and `down` on a Docker engine: the images, networks, volumes and containers of plan.ts, started in order
 * and watched; everything removed by the deployment's label (never by a name another project could have).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import type Docker from 'dockerode';
import { cacheDir } from '../engine/cache';
import { LABEL_USER } from '../engine/docker/ourContainers';
import { ensureImage } from '../engine/docker/images';
import { EngineError } from '../engine/errors';
import { ME } from '../engine/owner';
import { type Manifest, manifestText } from '../export/manifest';
import type { RuntimeValues } from '../runtime/values';
import { type DeployedImportError, importErrorsOf, type ImportErrorRecord } from './importErrors';
import { getJson } from './http';
import { ensureDeployImage } from './images';
import { type ComponentSpec, CONTAINER_EXECUTOR, type DeploymentPlan, deploymentId, LABEL_COMPONENT, LABEL_DEPLOYMENT, MANIFEST_NAME, planDeployment } from './plan';

/** A mistake or a failure a person can act on: said with what to do, exit code 2. */
export class DeploymentError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
  }

  describe(): string {
    return this.hint ? `${this.message}\n  what to do: ${this.hint}` : this.message;
  }
}

export type DeploymentEvent =
  | { kind: 'progress'; message: string }
  | { kind: 'up'; component: string; title: string }
  | { kind: 'ui'; url: string }
  | { kind: 'import-errors'; errors: DeployedImportError[] }
  | { kind: 'stopped'; component: string; title: string; log: string };

export interface UpRequest {
  projectRoot: string;
  dagRoot: string;
  dagsFolder: string;
  pluginsFolder?: string;
  manifest: Manifest;
  /** Each runtime's values (image, pull policy, build), by runtime id. */
  runtimes: ReadonlyMap<string, RuntimeValues>;
  port: number;
  signal?: AbortSignal;
  onEvent: (event: DeploymentEvent) => void;
  /** How long the components may take to answer (a loaded machine: minutes). */
  startMs?: number;
}

export interface RunningDeployment {
  plan: DeploymentPlan;
  url: string;
  /** Airflow's version, as the runtimes report it. */
  airflowVersion: string;
  executor: string;
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  const done = () => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', done);
    resolve();
  };
  const timer = setTimeout(done, ms);
  signal?.addEventListener('abort', done, { once: true });
});

/** The deployment's own state on this machine (the manifest its containers read): never in the project. */
export function stateFolderOf(id: string): string {
  return cacheDir('deployments', id);
}

/** Starts the project's Airflow; on any failure or cancellation everything started is removed again. */
export async function startDeployment(docker: Docker, request: UpRequest): Promise<RunningDeployment> {
  const id = deploymentId(request.projectRoot);
  const say = (message: string) => request.onEvent({ kind: 'progress', message });
  const running = await docker.listContainers({ filters: { label: [`${LABEL_DEPLOYMENT}=${id}`, `${LABEL_COMPONENT}=api-server`] } });
  if (running.length) {
    const port = running[0].Ports.find((p) => p.PublicPort)?.PublicPort;
    throw new DeploymentError(`this project's Airflow is already running${port ? ` at http://127.0.0.1:${port}` : ''}`, 'use it, or stop it first with `airflow-runtime down`');
  }
  await removeContainers(docker, id); // what a crash left (stopped containers of this deployment)
  await portIsFree(request.port);

  const airflowVersion = await checkRuntimes(docker, request, say);
  // The control plane needs Airflow, not any DAG's packages: any runtime's image serves. The first by name, so that
  // projects sharing an image share its control-plane image too.
  const base = [...request.manifest.runtimes].map((r) => r.image).sort()[0];
  const images = new Map<string, string>();
  const controlPlane = await ensureDeployImage(docker, base, 'control-plane', say, request.signal);
  for (const runtime of request.manifest.runtimes) {
    images.set(runtime.id, (await ensureDeployImage(docker, runtime.image, 'processor', say, request.signal)).tag);
  }
  const executor = (await hasContainerExecutor(docker, controlPlane.tag)) ? CONTAINER_EXECUTOR : 'LocalExecutor';

  const stateFolder = stateFolderOf(id);
  mkdirSync(stateFolder, { recursive: true, mode: 0o755 });
  writeFileSync(`${stateFolder}/${MANIFEST_NAME}`, manifestText(request.manifest), { mode: 0o644 });
  const socket = dockerSocket();
  const plan = planDeployment({
    projectRoot: request.projectRoot, dagRoot: request.dagRoot, dagsFolder: request.dagsFolder, pluginsFolder: request.pluginsFolder,
    manifest: request.manifest, stateFolder, controlPlaneImage: controlPlane.tag, processorImages: images, port: request.port,
    executor, dockerSocket: socket, secret: randomBytes(32).toString('hex'), ownerLabels: { [LABEL_USER]: ME.user },
  });

  try {
    await startComponents(docker, plan, request, say);
  } catch (error) {
    say('removing what was started');
    await removeDeployment(docker, id, { volumes: false, keepState: true }).catch(() => undefined);
    if (request.signal?.aborted) throw new EngineError('cancelled', 'cancelled: nothing of the deployment is left running');
    throw error;
  }
  return { plan, url: plan.url, airflowVersion, executor };
}

/** Every runtime's image is here (pulled or built per its runtime file) and runs one Airflow 3 version. */
async function checkRuntimes(docker: Docker, request: UpRequest, say: (m: string) => void): Promise<string> {
  const versions = new Map<string, string>();
  for (const runtime of request.manifest.runtimes) {
    const values = request.runtimes.get(runtime.id) ?? { image: runtime.image };
    await ensureImage(docker, values, new Set(), { signal: request.signal, onProgress: (p) => say(p.message) });
    versions.set(runtime.id, await airflowVersionIn(docker, runtime.image));
  }
  const describe = (ids: string[]) => ids.map((id) => `${request.manifest.runtimes.find((r) => r.id === id)?.image} (Airflow ${versions.get(id)})`).join(', ');
  const two = [...versions].filter(([, v]) => !v.startsWith('3.')).map(([id]) => id);
  if (two.length) throw airflow2Refusal(describe(two));
  const distinct = [...new Set(versions.values())];
  if (distinct.length > 1) {
    throw new DeploymentError(`the runtimes run different Airflow versions: ${describe([...versions.keys()])}; one deployment runs one Airflow version`,
      'put every runtime image on the same Airflow 3 version (one scheduler and API server serve them all)');
  }
  return distinct[0];
}

export function airflow2Refusal(which: string): DeploymentError {
  return new DeploymentError(`\`up\` runs Airflow 3 only (its executor starts each task in its runtime's container through Airflow 3's Execution API); these runtimes are Airflow 2: ${which}`,
    'for Airflow 2 runtimes use the per-image Celery mode: `airflow-runtime export`, then one Celery worker per runtime in its own image on its queue (README, "Run it like production"); or move the runtimes to Airflow 3');
}

async function airflowVersionIn(docker: Docker, image: string): Promise<string> {
  const output = await runToEnd(docker, image, ['python', '-c', 'import importlib.metadata as m; print(m.version("apache-airflow"))']);
  const version = output.trim().split('\n').pop() ?? '';
  if (!/^\d+\.\d+/.test(version)) throw new DeploymentError(`${image} has no Airflow (python -c 'import airflow' answered: ${output.trim().slice(-300)})`, 'name an Airflow 3 image in the runtime file');
  return version;
}

/** Whether the policy package in the control plane has the container executor (policy/: the launcher). */
async function hasContainerExecutor(docker: Docker, image: string): Promise<boolean> {
  const output = await runToEnd(docker, image, ['python', '-c', 'import importlib.util as u; print(bool(u.find_spec("airflow_runtime_policy.executor")))']).catch(() => '');
  return output.trim().endsWith('True');
}

/** A throwaway container, no network, its output once it ended. */
async function runToEnd(docker: Docker, image: string, cmd: string[]): Promise<string> {
  const container = await docker.createContainer({ Image: image, Cmd: cmd, Entrypoint: [], HostConfig: { NetworkMode: 'none', SecurityOpt: ['no-new-privileges'], CapDrop: ['ALL'] }, Labels: { [LABEL_USER]: ME.user } });
  try {
    await container.start();
    await container.wait();
    const logs = await container.logs({ stdout: true, stderr: true });
    return demux(logs);
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** `logs({follow: false})` is a buffer with Docker's 8-byte frame headers (no TTY). */
function demux(buffer: Buffer): string {
  const parts: Buffer[] = [];
  for (let at = 0; at + 8 <= buffer.length;) {
    const size = buffer.readUInt32BE(at + 4);
    parts.push(buffer.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

function portIsFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', () => reject(new DeploymentError(`port ${port} on 127.0.0.1 is in use`, 'choose another with --port N')));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

function dockerSocket(): { path: string; gid?: number } | undefined {
  const host = process.env.DOCKER_HOST;
  const socketPath = host?.startsWith('unix://') ? host.slice('unix://'.length) : host ? undefined : '/var/run/docker.sock';
  if (!socketPath) return undefined;
  try {
    return { path: socketPath, gid: statSync(socketPath).gid };
  } catch {
    return undefined;
  }
}

/**
 * A bridge network of the deployment's own. Docker keeps two bridges apart, so the task network never reaches the
 * control network's database. Neither is `internal`: Docker publishes no port of a container with an internal
 * network among its first, and a DAG processor may need what its DAG files reach at parse time.
 */
async function ensureNetwork(docker: Docker, name: string, labels: Record<string, string>): Promise<void> {
  const found = await docker.listNetworks({ filters: { name: [name] } });
  if (found.some((n) => n.Name === name)) return;
  await docker.createNetwork({ Name: name, Driver: 'bridge', Labels: labels, CheckDuplicate: true });
}

async function ensureVolume(docker: Docker, name: string, labels: Record<string, string>): Promise<void> {
  try {
    await docker.getVolume(name).inspect();
  } catch {
    await docker.createVolume({ Name: name, Labels: labels });
  }
}

async function startComponents(docker: Docker, plan: DeploymentPlan, request: UpRequest, say: (m: string) => void): Promise<void> {
  const { names, labels } = plan;
  const signal = request.signal;
  const cancelled = () => {
    if (signal?.aborted) throw new EngineError('cancelled', 'cancelled');
  };
  await ensureNetwork(docker, names.controlNetwork, labels);
  await ensureNetwork(docker, names.taskNetwork, labels);
  await ensureVolume(docker, names.dbVolume, labels);
  await ensureVolume(docker, names.logsVolume, labels);

  const db = await createStarted(docker, plan.db);
  await waitUntil('the database to accept connections', 120_000, signal, async () => {
    await assertRunning(docker, plan.db);
    const exec = await db.exec({ Cmd: ['sh', '-c', 'pg_isready -q -h 127.0.0.1 -p 5432 -d airflow -U airflow || "$(ls -d /usr/lib/postgresql/*/bin | tail -1)/pg_isready" -q -h 127.0.0.1 -p 5432 -d airflow -U airflow'], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({});
    stream.resume();
    await new Promise((resolve) => stream.on('end', resolve));
    return (await exec.inspect()).ExitCode === 0 ? true : undefined;
  });
  request.onEvent({ kind: 'up', component: 'db', title: plan.db.title });

  cancelled();
  const migrate = await createStarted(docker, plan.migrate);
  const onAbort = () => void migrate.kill().catch(() => undefined);
  signal?.addEventListener('abort', onAbort, { once: true });
  const { StatusCode } = await migrate.wait();
  signal?.removeEventListener('abort', onAbort);
  cancelled();
  if (StatusCode !== 0) {
    const log = demux(await migrate.logs({ stdout: true, stderr: true, tail: 40 }));
    throw new DeploymentError(`\`airflow db migrate\` failed (exit ${StatusCode}):\n${log}`, 'read the lines above; `airflow-runtime down --volumes` starts from an empty database');
  }
  await migrate.remove({ force: true }).catch(() => undefined);
  say('database migrated');

  const startOne = async (spec: ComponentSpec) => {
    cancelled();
    const container = await docker.createContainer(spec.create);
    if (spec.component === 'api-server') await docker.getNetwork(names.controlNetwork).connect({ Container: container.id });
    try {
      await container.start();
    } catch (error) {
      const message = (error as Error).message;
      if (/port is already allocated|address already in use/i.test(message)) throw new DeploymentError(`port ${request.port} on 127.0.0.1 is in use`, 'choose another with --port N');
      throw error;
    }
  };
  const reported = new Set<string>();
  const upNow = (component: string, title: string) => {
    if (reported.has(component)) return;
    reported.add(component);
    request.onEvent({ kind: 'up', component, title });
    if (component === 'api-server') request.onEvent({ kind: 'ui', url: plan.url });
  };
  const budget = request.startMs ?? 10 * 60_000;

  // The API server first, answering before anything can launch a task: a task container whose first Execution API
  // call meets a server still starting times out and is killed (seen on a loaded machine: 22 s for the first call).
  const [apiServer, ...rest] = plan.components;
  await startOne(apiServer);
  await waitUntil('the API server to answer', budget, signal, async () => {
    await assertRunning(docker, apiServer);
    return (await healthOf(plan.url)) ? true : undefined;
  });
  upNow('api-server', apiServer.title);

  for (const spec of rest) await startOne(spec);
  await waitUntil('the scheduler, the triggerer and the DAG processors', budget, signal, async () => {
    for (const spec of plan.components) await assertRunning(docker, spec);
    const health = await healthOf(plan.url);
    if (!health) return undefined;
    if (health.scheduler === 'healthy') upNow('scheduler', 'scheduler');
    if (health.triggerer === 'healthy') upNow('triggerer', 'triggerer');
    if (health.dag_processor === 'healthy') {
      for (const spec of rest.filter((c) => c.component.startsWith('dag-processor-'))) upNow(spec.component, spec.title);
    }
    return reported.size === plan.components.length ? true : undefined;
  });
}

async function createStarted(docker: Docker, spec: ComponentSpec): Promise<Docker.Container> {
  const container = await docker.createContainer(spec.create);
  await container.start();
  return container;
}

/** Throws with the component's last lines when its container is no longer running. */
async function assertRunning(docker: Docker, spec: ComponentSpec): Promise<void> {
  const container = docker.getContainer(spec.create.name!);
  const state = (await container.inspect()).State;
  if (state.Running) return;
  const log = demux(await container.logs({ stdout: true, stderr: true, tail: 30 }));
  throw new DeploymentError(`the ${spec.title} stopped (exit ${state.ExitCode}):\n${log.trimEnd()}`, 'read its last lines above; `airflow-runtime down` removes the rest');
}

type Health = Record<'metadatabase' | 'scheduler' | 'triggerer' | 'dag_processor', string | null>;

/** Airflow's own health answer (no login needed), undefined while the API server does not answer. */
async function healthOf(url: string): Promise<Health | undefined> {
  try {
    const body = await getJson<Record<string, { status?: string | null }>>(`${url}/api/v2/monitor/health`, 5000);
    return Object.fromEntries(['metadatabase', 'scheduler', 'triggerer', 'dag_processor'].map((k) => [k, body[k]?.status ?? null])) as Health;
  } catch {
    return undefined; // not answering yet (Docker's proxy accepts before the server listens)
  }
}

async function waitUntil(what: string, timeoutMs: number, signal: AbortSignal | undefined, probe: () => Promise<true | undefined>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted) throw new EngineError('cancelled', 'cancelled');
    if (await probe()) return;
    if (Date.now() > deadline) throw new DeploymentError(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`, 'the machine may be very busy: try again; `docker logs` of the deployment\'s containers says more');
    await sleep(1000, signal);
  }
}

/**
 * Watches a running deployment until `signal` aborts: the import errors of the DAG processors when they change,
 * and a component that stops (then it throws: a deployment without its scheduler is not running).
 */
export async function watchDeployment(docker: Docker, plan: DeploymentPlan, request: Pick<UpRequest, 'dagRoot' | 'dagsFolder' | 'onEvent' | 'signal'>): Promise<void> {
  let last = '';
  while (!request.signal?.aborted) {
    for (const spec of plan.components) await assertRunning(docker, spec);
    const errors = await fetchImportErrors(plan.url).catch(() => undefined);
    if (errors) {
      const mapped = importErrorsOf(errors, plan.bundleSources, request.dagRoot, request.dagsFolder);
      const key = JSON.stringify(mapped);
      if (key !== last) request.onEvent({ kind: 'import-errors', errors: mapped });
      last = key;
    }
    await sleep(3000, request.signal);
  }
}

export async function fetchImportErrors(url: string): Promise<ImportErrorRecord[]> {
  return (await getJson<{ import_errors: ImportErrorRecord[] }>(`${url}/api/v2/importErrors?limit=1000`, 10_000)).import_errors;
}

/** The URL of the project's running Airflow, or undefined when none runs. */
export async function runningUrl(docker: Docker, projectRoot: string): Promise<string | undefined> {
  const id = deploymentId(projectRoot);
  const running = await docker.listContainers({ filters: { label: [`${LABEL_DEPLOYMENT}=${id}`, `${LABEL_COMPONENT}=api-server`] } });
  const port = running[0]?.Ports.find((p) => p.PublicPort)?.PublicPort;
  return port ? `http://127.0.0.1:${port}` : undefined;
}

async function removeContainers(docker: Docker, id: string): Promise<string[]> {
  const listed = await docker.listContainers({ all: true, filters: { label: [`${LABEL_DEPLOYMENT}=${id}`] } });
  // SIGTERM first, a few seconds for PostgreSQL and Airflow to end cleanly; then force.
  await Promise.all(listed.map((c) => docker.getContainer(c.Id).stop({ t: 5 }).catch(() => undefined)));
  await Promise.all(listed.map((c) => docker.getContainer(c.Id).remove({ force: true, v: false }).catch(() => undefined)));
  return listed.map((c) => (c.Names[0] ?? c.Id).replace(/^\//, ''));
}

export interface Removed {
  containers: string[];
  networks: string[];
  volumes: string[];
}

/** Removes every container (the task containers too) and network of the project's deployment; its volumes with `volumes`. */
export async function removeDeployment(docker: Docker, idOrRoot: string, options: { volumes: boolean; keepState?: boolean }): Promise<Removed> {
  const id = idOrRoot.includes('/') ? deploymentId(idOrRoot) : idOrRoot;
  const containers = await removeContainers(docker, id);
  const networks: string[] = [];
  for (const network of await docker.listNetworks({ filters: { label: [`${LABEL_DEPLOYMENT}=${id}`] } })) {
    await docker.getNetwork(network.Id).remove().catch(() => undefined);
    networks.push(network.Name);
  }
  const volumes: string[] = [];
  if (options.volumes) {
    const { Volumes } = await docker.listVolumes({ filters: { label: [`${LABEL_DEPLOYMENT}=${id}`] } });
    for (const volume of Volumes ?? []) {
      await docker.getVolume(volume.Name).remove({ force: true });
      volumes.push(volume.Name);
    }
  }
  if (!options.keepState) rmSync(stateFolderOf(id), { recursive: true, force: true });
  return { containers, networks, volumes };
}
