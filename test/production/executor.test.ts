/**
 * Issue 23, parts 1 and 2: the task launcher and ContainerTaskExecutor (policy/) under a real Airflow 3.3
 * scheduler and API server. PostgreSQL of its own on 127.0.0.1, the API server and the scheduler in the deployment
 * image (which holds neither team's packages), one DAG processor per bundle in its runtime's image, and the
 * scheduler's executor starting every task in a container of its runtime's image on this machine's dockerd.
 *
 * What it checks: each task runs in its own image (team A's and team B's, its log says so, the UI's log route
 * serves it); a task container is hardened as the manifest says; a daemon a task double-forks is gone from the
 * host when the task ends; a task marked failed through the REST API loses its container; a scheduler killed with
 * SIGKILL mid-task and started again adopts the task's container, and removes it when the task ends.
 *
 * Every container carries the run's marker: ours by RUN_LABEL, the task containers by their deployment label.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  Api, Container, DEPLOYMENT_IMAGE, Fatal, RUN, cleanupAll, freePort, log, needs, onCleanup, problems, runOnce,
  scratch, startPostgres, waitFor, type ContainerSpec,
} from './deployment';

const HERE = __dirname;
const CLI = path.join(HERE, '../../dist/cli.js');
const TEAM_IMAGES = ['airflow-runtime-test/team-a:3.3.2', 'airflow-runtime-test/team-b:3.3.2'];
const DEPLOYMENT_LABEL = 'airflow-runtime.deployment';
const TI_LABEL = 'airflow-runtime.ti-id';

interface Runtime { id: string; image: string; env: Record<string, string | null>; bundles: { name: string; path: string }[]; container: { hostConfig: Record<string, unknown> } }
interface Manifest { dagsFolder: string; runtimes: Runtime[]; files: { path: string; runtime: string }[] }
interface TaskInstance { id: string; task_id: string; state: string | null; try_number: number; queued_when: string | null; start_date: string | null }

const docker = (args: string[]) => spawnSync('docker', args, { encoding: 'utf8' });
/** The task containers of this run (the executor labels them with the deployment name we gave it). */
const taskContainers = (filter = '') => docker(['ps', '-aq', '--filter', `label=${DEPLOYMENT_LABEL}=${RUN}`, ...(filter ? ['--filter', filter] : [])]).stdout.split('\n').filter(Boolean);
const containerOf = (tiId: string) => taskContainers(`label=${TI_LABEL}=${tiId}`)[0];
/** Processes on this host whose command line holds `marker` (a container's processes are seen here too). */
const hostProcesses = (marker: string) => spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes(marker) && !l.includes('ps -eo'));
const daemonMarker = (runId: string) => `sleeper-${createHash('sha256').update(runId).digest('hex').slice(0, 16)}`;

const missing = problems([...TEAM_IMAGES]);

describe('ContainerTaskExecutor: each task in its runtime\'s container, under a real scheduler', needs(missing), () => {
  let api: Api;
  let manifest: Manifest;
  let scheduler: Container;
  const containers: Container[] = [];
  /** When the container of each task instance started (docker events), for the queued-to-running numbers. */
  const started = new Map<string, number>();
  let events: ChildProcess | undefined;
  const checkAll = () => containers.forEach((c) => c.checkRunning());

  before(async () => {
    const t0 = Date.now();
    try {
      await deploy();
    } catch (error) {
      for (const container of containers) log(`--- ${container.spec.role} (last lines)\n${container.logs(60)}`);
      throw error;
    } finally {
      log(`executor deployment up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  }, { timeout: 10 * 60_000 });

  afterEach((t) => {
    // a failed test shows what each component said last
    if (!(t as unknown as { passed?: boolean }).passed) for (const c of containers) log(`--- ${c.spec.role} (last lines)\n${c.logs(c.spec.role === 'api-server' ? 150 : 40)}`);
  });

  after(() => {
    events?.kill();
    cleanupAll();
  });

  async function deploy(): Promise<void> {
    // Task containers are the executor's, not ours: removed by their deployment label whatever happens.
    onCleanup(() => {
      const ids = taskContainers();
      if (ids.length) docker(['rm', '-f', '-v', ...ids]);
    });
    const dir = scratch();
    const project = path.join(dir, 'project');
    cpSync(path.join(HERE, 'project'), project, { recursive: true });
    copyFileSync(path.join(HERE, 'executor', 'lifecycle.py'), path.join(project, 'dags', 'team_a', 'lifecycle.py'));
    const out = path.join(dir, 'export');
    const exported = spawnSync(process.execPath, [CLI, 'export', project, '--out', out, '--workspace', project], { cwd: project, encoding: 'utf8' });
    assert.equal(exported.status, 0, `airflow-runtime export failed:\n${exported.stdout}${exported.stderr}`);
    const manifestFile = path.join(out, 'airflow-runtime-manifest.json');
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
    const dagsFolder = path.join(project, manifest.dagsFolder);
    // Written by Airflow's supervisor inside the task containers, which run as 50000:0 (the images run as root).
    const logs = path.join(dir, 'logs');
    mkdirSync(logs);
    chmodSync(logs, 0o777);

    // killed on every way out (an interrupted run too), not only after the tests
    onCleanup(() => events?.kill());
    events = spawn('docker', ['events', '--format', '{{json .}}', '--filter', `label=${DEPLOYMENT_LABEL}=${RUN}`, '--filter', 'event=start'], { stdio: ['ignore', 'pipe', 'ignore'] });
    events.stdout!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        const event = JSON.parse(line) as { timeNano: number; Actor: { Attributes: Record<string, string> } };
        started.set(event.Actor.Attributes[TI_LABEL], event.timeNano / 1e6);
      }
    });

    const [pgPort, apiPort] = [await freePort(), await freePort()];
    const database = await startPostgres(dir, pgPort);
    const bundles = manifest.runtimes.flatMap((runtime) => runtime.bundles.map((bundle) => ({
      name: bundle.name,
      classpath: 'airflow.dag_processing.bundles.local.LocalDagBundle',
      kwargs: { path: path.posix.join(dagsFolder, bundle.path), refresh_interval: 0 },
    })));
    const secret = randomBytes(24).toString('hex');
    const env: Record<string, string> = {
      AIRFLOW__CORE__EXECUTOR: 'airflow_runtime_policy.executor.ContainerTaskExecutor',
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: database.replace(/^postgresql:/, 'postgresql+psycopg2:'),
      AIRFLOW__CORE__EXECUTION_API_SERVER_URL: `http://127.0.0.1:${apiPort}/execution/`,
      AIRFLOW__API__BASE_URL: `http://127.0.0.1:${apiPort}`,
      AIRFLOW__API_AUTH__JWT_SECRET: secret,
      AIRFLOW__API__SECRET_KEY: secret,
      AIRFLOW__CORE__AUTH_MANAGER: 'airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager',
      AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS: 'True',
      AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
      AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION: 'False',
      AIRFLOW__CORE__DAGS_FOLDER: dagsFolder,
      AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST: JSON.stringify(bundles),
      AIRFLOW__LOGGING__BASE_LOG_FOLDER: logs,
      AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC: '2',
      // A killed scheduler's job is found dead, and its tasks offered for adoption, within seconds
      AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD: '10',
      AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL: '5',
      AIRFLOW_RUNTIME_MANIFEST: manifestFile,
      AIRFLOW_RUNTIME_DAGS_FOLDER: dagsFolder,
    };
    const launcher: Record<string, string> = {
      AIRFLOW_RUNTIME_EXECUTION_API_URL: `http://127.0.0.1:${apiPort}/execution/`,
      AIRFLOW_RUNTIME_DOCKER_NETWORK: 'host',
      AIRFLOW_RUNTIME_DEPLOYMENT: RUN,
      AIRFLOW_RUNTIME_LOGS_SOURCE: logs,
      AIRFLOW_RUNTIME_BUNDLE_SOURCES: JSON.stringify(Object.fromEntries(bundles.map((b) => [b.name, b.kwargs.path]))),
    };
    const mounts = [{ path: project }, { path: logs, rw: true }, { path: out }];
    const spec = (role: string, image: string, command: string[], extra: Record<string, string> = {}, more: ContainerSpec['mounts'] = []): ContainerSpec =>
      ({ role, image, command, env: { ...env, ...extra }, mounts: [...mounts, ...more] });

    const syncBundles = 'from airflow.dag_processing.bundles.manager import DagBundlesManager; DagBundlesManager().sync_bundles_to_db()';
    await runOnce(spec('migrate', DEPLOYMENT_IMAGE, ['bash', '-c', `airflow db migrate && python -c '${syncBundles}'`]), 5 * 60_000);
    containers.push(Container.start(spec('api-server', DEPLOYMENT_IMAGE, ['airflow', 'api-server', '--host', '127.0.0.1', '--port', String(apiPort), '--workers', '1'])));
    scheduler = Container.start(spec('scheduler', DEPLOYMENT_IMAGE, ['airflow', 'scheduler', '--skip-serve-logs'], launcher, [{ path: '/var/run/docker.sock', rw: true }]));
    containers.push(scheduler);
    for (const runtime of manifest.runtimes) {
      const own = { ...(runtime.env as Record<string, string>), AIRFLOW_RUNTIME_ID: runtime.id };
      for (const bundle of runtime.bundles) {
        containers.push(Container.start(spec(`dag-processor-${bundle.name}`, runtime.image, ['airflow', 'dag-processor', '--bundle-name', bundle.name], own)));
      }
    }
    api = new Api(`http://127.0.0.1:${apiPort}`);
    await waitFor('the API server, the scheduler and the DAG processors to be healthy', 4 * 60_000, async () => {
      const health = await api.get<Record<string, { status: string | null }>>('/api/v2/monitor/health');
      return ['metadatabase', 'scheduler', 'dag_processor'].every((part) => health[part]?.status === 'healthy') ? health : undefined;
    }, checkAll);
    // The Execution API's first request (what a task's supervisor sends first) on a cold API server
    const warm = Date.now();
    const cold = await fetch(`http://127.0.0.1:${apiPort}/execution/task-instances/01a23bf8-d4d3-7521-81cc-4b16bfa1fb63/run`, {
      method: 'PATCH', headers: { authorization: 'Bearer x', 'content-type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(5 * 60_000),
    });
    log(`first Execution API request: HTTP ${cold.status} after ${Date.now() - warm} ms`);
    const expected = ['lifecycle_daemon', 'lifecycle_wait', 'team_a_orders', 'team_b_reports'];
    await waitFor('the DAG files to be parsed, each in its image', 2 * 60_000, async () => {
      const errors = await api.get<{ import_errors: { filename: string; stack_trace: string }[] }>('/api/v2/importErrors?limit=100');
      if (errors.import_errors.length) throw new Fatal(`import errors:\n${errors.import_errors.map((e) => `${e.filename}: ${e.stack_trace}`).join('\n')}`);
      const { dags } = await api.get<{ dags: { dag_id: string }[] }>('/api/v2/dags?limit=100');
      return expected.every((id) => dags.some((d) => d.dag_id === id)) ? true : undefined;
    }, checkAll);
  }

  const runRoute = (dagId: string, runId: string) => `/api/v2/dags/${dagId}/dagRuns/${encodeURIComponent(runId)}`;
  async function trigger(dagId: string): Promise<string> {
    const runId = `${dagId}-${randomBytes(4).toString('hex')}`;
    await api.post(`/api/v2/dags/${dagId}/dagRuns`, { dag_run_id: runId, logical_date: null });
    return runId;
  }
  const taskInstances = async (dagId: string, runId: string) => (await api.get<{ task_instances: TaskInstance[] }>(`${runRoute(dagId, runId)}/taskInstances`)).task_instances;
  async function runningTask(dagId: string, runId: string): Promise<{ ti: TaskInstance; container: string }> {
    return waitFor(`${dagId} to run in its container`, 3 * 60_000, async () => {
      const [ti] = await taskInstances(dagId, runId);
      if (ti && ['failed', 'success', 'upstream_failed'].includes(ti.state ?? '')) throw new Fatal(`${dagId} ended ${ti.state} before the test acted:\n${await taskLog(dagId, runId, ti)}`);
      const container = ti?.state === 'running' ? containerOf(ti.id) : undefined;
      return container ? { ti, container } : undefined;
    }, checkAll);
  }
  async function ended(dagId: string, runId: string): Promise<TaskInstance[]> {
    return waitFor(`${dagId} ${runId} to end`, 3 * 60_000, async () => {
      const { state } = await api.get<{ state: string }>(runRoute(dagId, runId));
      return state === 'success' || state === 'failed' ? taskInstances(dagId, runId) : undefined;
    }, checkAll);
  }
  const taskLog = (dagId: string, runId: string, ti: TaskInstance) =>
    api.taskLog(`${runRoute(dagId, runId)}/taskInstances/${ti.task_id}/logs/${Math.max(ti.try_number, 1)}?full_content=true`).catch((e: Error) => e.message);
  const release = (runId: string) => api.post('/api/v2/variables', { key: `release-${runId}`, value: 'go' });
  const gone = (what: string, tiId: string) => waitFor(`the container of ${what} to be removed`, 2 * 60_000, () => (containerOf(tiId) ? undefined : true), checkAll);
  /** Queued to container started, and to the task's own start (Airflow imported in the container), in ms. */
  const latency = (ti: TaskInstance) => {
    const queued = Date.parse(ti.queued_when ?? '');
    return `queued -> container started ${(started.get(ti.id)! - queued).toFixed(0)} ms, -> task running ${(Date.parse(ti.start_date ?? '') - queued).toFixed(0)} ms`;
  };

  it('runs each task in its runtime\'s image: the log the API serves says which, and the image has that runtime\'s package only', async () => {
    const runs = [['team_a_orders', 'team-a', 'toolz'], ['team_b_reports', 'team-b', 'emoji']] as const;
    const ids = await Promise.all(runs.map(([dagId]) => trigger(dagId)));
    for (const [i, [dagId, team, pkg]] of runs.entries()) {
      const tis = await ended(dagId, ids[i]);
      const logs = await Promise.all(tis.map((ti) => taskLog(dagId, ids[i], ti)));
      assert.deepEqual(tis.map((ti) => ti.state), tis.map(() => 'success'), `${dagId}:\n${logs.join('\n---\n').slice(-4000)}\n${scheduler.logs(40)}`);
      assert.ok(logs.some((text) => text.includes(`ran in {'marker': '${team}'`)), `${dagId}: no task log says it ran in ${team}'s image:\n${logs.join('\n---\n').slice(-3000)}`);
      for (const ti of tis) {
        const xcom = await api.get<{ value: unknown }>(`${runRoute(dagId, ids[i])}/taskInstances/${ti.task_id}/xcomEntries/return_value`);
        const seen = (typeof xcom.value === 'string' ? JSON.parse(xcom.value) : xcom.value) as { marker: string; packages: Record<string, string | null>; runtimeId: string };
        const runtime = manifest.runtimes.find((r) => r.image.includes(team))!;
        assert.deepEqual([seen.marker, seen.runtimeId, seen.packages[pkg] !== null], [team, runtime.id, true], `${dagId}.${ti.task_id}`);
        assert.equal(Object.entries(seen.packages).filter(([name, v]) => name !== pkg && v !== null).length, 0, `${dagId}.${ti.task_id} sees the other team's package`);
        log(`${dagId}.${ti.task_id}: ${latency(ti)}`);
      }
    }
    await waitFor('every ended task\'s container to be removed', 2 * 60_000, () => (taskContainers().length ? undefined : true), checkAll);
  });

  it('hardens the task container as the manifest says, and a daemon the task double-forks is gone from the host when it ends', async () => {
    const runId = await trigger('lifecycle_daemon');
    const marker = daemonMarker(runId);
    const { ti, container } = await runningTask('lifecycle_daemon', runId);
    // The daemon runs, seen from the host: the check below can fail.
    await waitFor('the daemon to be seen on the host', 2 * 60_000, () => (hostProcesses(marker).length === 1 ? true : undefined), checkAll);
    const inspect = JSON.parse(docker(['inspect', container]).stdout)[0] as { Config: { User: string; Labels: Record<string, string> }; HostConfig: Record<string, unknown>; Mounts: { Source: string; Destination: string; RW: boolean }[] };
    const runtime = manifest.runtimes.find((r) => r.image.includes('team-a'))!;
    assert.equal(inspect.Config.User, '50000:0', 'the image runs as root: the task does not');
    for (const key of ['SecurityOpt', 'CapDrop', 'CapAdd', 'PidsLimit', 'Memory', 'Tmpfs']) assert.deepEqual(inspect.HostConfig[key], runtime.container.hostConfig[key], key);
    const bundle = inspect.Mounts.find((m) => m.Destination.endsWith('/team_a'));
    assert.equal(bundle?.RW, false, `the bundle is bound read-only: ${JSON.stringify(inspect.Mounts)}`);
    assert.deepEqual([inspect.Config.Labels['airflow-runtime.dag-id'], inspect.Config.Labels['airflow-runtime.run-id'], inspect.Config.Labels['airflow-runtime.try-number']], ['lifecycle_daemon', runId, '1']);

    await release(runId);
    const [done] = await ended('lifecycle_daemon', runId);
    assert.equal(done.state, 'success', await taskLog('lifecycle_daemon', runId, done));
    await gone('lifecycle_daemon', ti.id);
    assert.deepEqual(hostProcesses(marker), [], 'the daemon is gone with the container');
    log(`lifecycle_daemon: ${latency(done)}`);
  });

  it('stops the container of a task marked failed through the REST API', async () => {
    const runId = await trigger('lifecycle_wait');
    const { ti } = await runningTask('lifecycle_wait', runId);
    const markedAt = Date.now();
    await api.request('PATCH', `${runRoute('lifecycle_wait', runId)}/taskInstances/wait`, { new_state: 'failed' });
    await gone('the task marked failed', ti.id);
    log(`marked failed -> container removed ${Date.now() - markedAt} ms`);
    const [after] = await taskInstances('lifecycle_wait', runId);
    assert.equal(after.state, 'failed');
  });

  it('adopts a task\'s container after the scheduler is killed with SIGKILL and started again, and removes it when the task ends', async () => {
    const runId = await trigger('lifecycle_wait');
    const { ti, container } = await runningTask('lifecycle_wait', runId);
    assert.equal(docker(['kill', '--signal', 'KILL', scheduler.id]).status, 0);
    assert.equal(docker(['start', scheduler.id]).status, 0);
    await waitFor('the new scheduler to adopt the task\'s container', 2 * 60_000, () => (scheduler.logs(400).includes(`in container ${container.slice(0, 12)}`) && new RegExp(`Adopted .* in container ${container.slice(0, 12)}`).test(scheduler.logs(400)) ? true : undefined), checkAll);
    assert.equal(containerOf(ti.id), container, 'the same container, still running');
    await release(runId);
    const [done] = await ended('lifecycle_wait', runId);
    assert.deepEqual([done.state, done.try_number], ['success', 1], await taskLog('lifecycle_wait', runId, done));
    await gone('the adopted task', ti.id);
    assert.deepEqual(taskContainers(), [], 'nothing of the deployment\'s tasks is left');
  });
});
