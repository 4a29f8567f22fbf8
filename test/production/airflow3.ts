/**
 * What the Airflow 3 deployments of the production tests (celery, executor, leanCelery) share: the project as
 * `airflow-runtime export` writes it, Airflow's configuration for it, the components every one of them starts,
 * the task containers our launcher labels, and the REST routes a test drives a DAG run with. Each test file keeps
 * only what its deployment is about (its executor, its workers, what it checks).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, afterEach, before } from 'node:test';
import { Api, Container, DEPLOYMENT_IMAGE, Fatal, RUN, cleanupAll, log, onCleanup, runOnce, scratch, waitFor, type ContainerSpec } from './deployment';

const CLI = path.join(__dirname, '../../dist/cli.js');
export const PROJECT = path.join(__dirname, 'project');
export const TEAM_IMAGES = ['airflow-runtime-test/team-a:3.3.2', 'airflow-runtime-test/team-b:3.3.2'];
/** Our launcher labels each task container with the deployment's name (RUN here) and its task instance's id. */
export const DEPLOYMENT_LABEL = 'airflow-runtime.deployment';
export const TI_LABEL = 'airflow-runtime.ti-id';

/** What the tests read of a runtime in the manifest. */
export interface ManifestRuntime { id: string; image: string; env: Record<string, string | null>; bundles: { name: string; path: string }[] }
export interface TaskInstance { id: string; task_id: string; state: string | null; try_number: number }

export interface ExportedProject<M> {
  dir: string;
  project: string;
  /** The export's folder: the manifest and the deployment fragments. */
  out: string;
  manifestFile: string;
  manifest: M;
  dagsFolder: string;
  /** Task logs: written by Airflow's supervisor inside the task containers, which run as 50000:0. */
  logs: string;
}

/** The test project in a scratch folder, exported as a user would (dist/cli.js: `npm test` builds it first). */
export function exportProject<M extends { dagsFolder: string }>(options: { lifecycle?: boolean } = {}): ExportedProject<M> {
  const dir = scratch();
  const project = path.join(dir, 'project');
  cpSync(PROJECT, project, { recursive: true });
  // the task-launcher tests' own DAGs: a task that waits to be released, one that double-forks a daemon
  if (options.lifecycle) copyFileSync(path.join(__dirname, 'executor', 'lifecycle.py'), path.join(project, 'dags', 'team_a', 'lifecycle.py'));
  const out = path.join(dir, 'export');
  const exported = spawnSync(process.execPath, [CLI, 'export', project, '--out', out, '--workspace', project], { cwd: project, encoding: 'utf8' });
  assert.equal(exported.status, 0, `airflow-runtime export failed:\n${exported.stdout}${exported.stderr}`);
  const manifestFile = path.join(out, 'airflow-runtime-manifest.json');
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as M;
  const logs = path.join(dir, 'logs');
  mkdirSync(logs);
  chmodSync(logs, 0o777);
  return { dir, project, out, manifestFile, manifest, dagsFolder: path.join(project, manifest.dagsFolder), logs };
}

/** One DAG bundle per bundle of each runtime, as Airflow's dag_bundle_config_list has them. */
export function bundlesOf(runtimes: ManifestRuntime[], dagsFolder: string) {
  return runtimes.flatMap((runtime) => runtime.bundles.map((bundle) => ({
    name: bundle.name,
    classpath: 'airflow.dag_processing.bundles.local.LocalDagBundle',
    kwargs: { path: path.posix.join(dagsFolder, bundle.path), refresh_interval: 0 },
  })));
}

/** Airflow's configuration every deployment shares: its database, the API server at `apiPort`, every user admin, the bundles. */
export function airflowEnv(exported: ExportedProject<unknown>, p: { executor: string; database: string; apiPort: number; bundles: ReturnType<typeof bundlesOf> }): Record<string, string> {
  const secret = randomBytes(24).toString('hex');
  return {
    AIRFLOW__CORE__EXECUTOR: p.executor,
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: p.database.replace(/^postgresql:/, 'postgresql+psycopg2:'),
    AIRFLOW__CORE__EXECUTION_API_SERVER_URL: `http://127.0.0.1:${p.apiPort}/execution/`,
    AIRFLOW__API__BASE_URL: `http://127.0.0.1:${p.apiPort}`,
    AIRFLOW__API_AUTH__JWT_SECRET: secret,
    AIRFLOW__API__SECRET_KEY: secret,
    AIRFLOW__CORE__AUTH_MANAGER: 'airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager',
    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS: 'True',
    AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
    AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION: 'False',
    AIRFLOW__CORE__DAGS_FOLDER: exported.dagsFolder,
    AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST: JSON.stringify(p.bundles),
    AIRFLOW__LOGGING__BASE_LOG_FOLDER: exported.logs,
    AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC: '2',
    AIRFLOW_RUNTIME_MANIFEST: exported.manifestFile,
    AIRFLOW_RUNTIME_DAGS_FOLDER: exported.dagsFolder,
  };
}

/** The CeleryExecutor's part: results in the metadata DB, Redis as the broker, the policy in Celery mode. */
export const celeryEnv = (database: string, broker: string): Record<string, string> => ({
  AIRFLOW__CELERY__RESULT_BACKEND: `db+${database}`,
  AIRFLOW__CELERY__BROKER_URL: broker,
  AIRFLOW_RUNTIME_MODE: 'celery',
});

/** What our task launcher needs beside the deployment's env: the Execution API, the network, its label, the logs. */
export const launcherEnv = (apiPort: number, logs: string): Record<string, string> => ({
  AIRFLOW_RUNTIME_EXECUTION_API_URL: `http://127.0.0.1:${apiPort}/execution/`,
  AIRFLOW_RUNTIME_DOCKER_NETWORK: 'host',
  AIRFLOW_RUNTIME_DEPLOYMENT: RUN,
  AIRFLOW_RUNTIME_LOGS_SOURCE: logs,
});

export type SpecOf = (role: string, image: string, command: string[], extra?: Record<string, string>, more?: ContainerSpec['mounts']) => ContainerSpec;

/** A component's container: the deployment's env and mounts (the project, the logs, the export), and its own. */
export function specsFor(env: Record<string, string>, exported: ExportedProject<unknown>): SpecOf {
  const mounts = [{ path: exported.project }, { path: exported.logs, rw: true }, { path: exported.out }];
  return (role, image, command, extra = {}, more = []) => ({ role, image, command, env: { ...env, ...extra }, mounts: [...mounts, ...more] });
}

// The bundles go into the metadata DB before the processors start: each processor inserts every configured
// bundle missing from the dag_bundle table when it starts, and two starting together collide on its primary
// key (UniqueViolation, the loser exits; seen here). A real deployment's restart policy hides that.
const SYNC_BUNDLES = 'from airflow.dag_processing.bundles.manager import DagBundlesManager; DagBundlesManager().sync_bundles_to_db()';

/** `airflow db migrate`, then the bundles into the metadata DB. */
export const migrate = (spec: SpecOf) => runOnce(spec('migrate', DEPLOYMENT_IMAGE, ['bash', '-c', `airflow db migrate && python -c '${SYNC_BUNDLES}'`]), 5 * 60_000);

export const startApiServer = (spec: SpecOf, apiPort: number) =>
  Container.start(spec('api-server', DEPLOYMENT_IMAGE, ['airflow', 'api-server', '--host', '127.0.0.1', '--port', String(apiPort), '--workers', '1']));

/** One DAG processor per bundle, each in its runtime's image with the runtime's own env. */
export function startDagProcessors(spec: SpecOf, runtimes: ManifestRuntime[]): Container[] {
  return runtimes.flatMap((runtime) => {
    const own = { ...(runtime.env as Record<string, string>), AIRFLOW_RUNTIME_ID: runtime.id };
    return runtime.bundles.map((bundle) => Container.start(spec(`dag-processor-${bundle.name}`, runtime.image, ['airflow', 'dag-processor', '--bundle-name', bundle.name], own)));
  });
}

export const waitHealthy = (api: Api, checkAll: () => void) =>
  waitFor('the API server, the scheduler and the DAG processors to be healthy', 4 * 60_000, async () => {
    const health = await api.get<Record<string, { status: string | null }>>('/api/v2/monitor/health');
    return ['metadatabase', 'scheduler', 'dag_processor'].every((part) => health[part]?.status === 'healthy') ? health : undefined;
  }, checkAll);

/**
 * The Execution API's first request (what a task's supervisor sends first) is slow on a cold API server (tens of
 * seconds here): longer than a supervisor waits. Made once, before any task runs; unauthenticated, so refused.
 */
export const firstExecutionApiRequest = (apiPort: number) =>
  fetch(`http://127.0.0.1:${apiPort}/execution/task-instances/01a23bf8-d4d3-7521-81cc-4b16bfa1fb63/run`, {
    method: 'PATCH', headers: { authorization: 'Bearer x', 'content-type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(5 * 60_000),
  });

export const waitParsed = (api: Api, expected: string[], checkAll: () => void) =>
  waitFor('the DAG files to be parsed, each in its image', 2 * 60_000, async () => {
    const errors = await api.get<{ import_errors: { filename: string; stack_trace: string }[] }>('/api/v2/importErrors?limit=100');
    if (errors.import_errors.length) throw new Fatal(`import errors:\n${errors.import_errors.map((e) => `${e.filename}: ${e.stack_trace}`).join('\n')}`);
    const { dags } = await api.get<{ dags: { dag_id: string }[] }>('/api/v2/dags?limit=100');
    return expected.every((id) => dags.some((d) => d.dag_id === id)) ? true : undefined;
  }, checkAll);

export const docker = (args: string[]) => spawnSync('docker', args, { encoding: 'utf8' });
/** The task containers of this run (our launcher labels them with the deployment name we gave it). */
export const taskContainers = (filter = '') => docker(['ps', '-aq', '--filter', `label=${DEPLOYMENT_LABEL}=${RUN}`, ...(filter ? ['--filter', filter] : [])]).stdout.split('\n').filter(Boolean);
export const containerOf = (tiId: string) => taskContainers(`label=${TI_LABEL}=${tiId}`)[0];

/** Task containers are the launcher's, not ours: removed by their deployment label whatever happens. */
export function removeTaskContainersAtCleanup(): void {
  onCleanup(() => {
    const ids = taskContainers();
    if (ids.length) docker(['rm', '-f', '-v', ...ids]);
  });
}

/** Each start of a task container of this run, as docker events tell it; the watcher is killed on every way out. */
export function watchTaskContainerStarts(onStart: (labels: Record<string, string>, atMs: number) => void): ChildProcess {
  const events = spawn('docker', ['events', '--format', '{{json .}}', '--filter', `label=${DEPLOYMENT_LABEL}=${RUN}`, '--filter', 'event=start'], { stdio: ['ignore', 'pipe', 'ignore'] });
  onCleanup(() => events.kill());
  events.stdout!.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      const event = JSON.parse(line) as { timeNano: number; Actor: { Attributes: Record<string, string> } };
      onStart(event.Actor.Attributes, event.timeNano / 1e6);
    }
  });
  return events;
}

/**
 * The suite's hooks: the deployment started once before its tests (each component's last lines when that
 * fails), a failed test shows what each component said last, and everything is removed after.
 */
export function deploymentHooks(what: string, containers: Container[], deploy: () => Promise<void>, linesOf: (role: string) => number = () => 60): void {
  before(async () => {
    const t0 = Date.now();
    try {
      await deploy();
    } catch (error) {
      for (const container of containers) log(`--- ${container.spec.role} (last lines)\n${container.logs(60)}`);
      throw error;
    } finally {
      log(`${what} up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  }, { timeout: 10 * 60_000 });
  afterEach((t) => {
    if (!(t as unknown as { passed?: boolean }).passed) for (const c of containers) log(`--- ${c.spec.role} (last lines)\n${c.logs(linesOf(c.spec.role))}`);
  });
  after(() => cleanupAll());
}

/** Triggering a DAG and following its run through the REST API (`api()`: the suite's, once deployed). */
export function dagRuns<T extends TaskInstance>(api: () => Api, checkAll: () => void) {
  const runRoute = (dagId: string, runId: string) => `/api/v2/dags/${dagId}/dagRuns/${encodeURIComponent(runId)}`;
  const taskInstances = async (dagId: string, runId: string) => (await api().get<{ task_instances: T[] }>(`${runRoute(dagId, runId)}/taskInstances`)).task_instances;
  return {
    runRoute,
    taskInstances,
    async trigger(dagId: string): Promise<string> {
      const runId = `${dagId}-${randomBytes(4).toString('hex')}`;
      await api().post(`/api/v2/dags/${dagId}/dagRuns`, { dag_run_id: runId, logical_date: null });
      return runId;
    },
    ended: (dagId: string, runId: string, timeoutMs: number) => waitFor(`${dagId} ${runId} to end`, timeoutMs, async () => {
      const { state } = await api().get<{ state: string }>(runRoute(dagId, runId));
      return state === 'success' || state === 'failed' ? taskInstances(dagId, runId) : undefined;
    }, checkAll),
    taskLog: (dagId: string, runId: string, ti: T) =>
      api().taskLog(`${runRoute(dagId, runId)}/taskInstances/${ti.task_id}/logs/${Math.max(ti.try_number, 1)}?full_content=true`).catch((e: Error) => e.message),
  };
}
