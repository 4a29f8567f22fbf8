/**
 * Issue 23, part 3: lean Celery workers. The scheduler runs the stock CeleryExecutor (the policy routes each
 * runtime's tasks to its queue); the workers run in the deployment image, which holds neither team's packages,
 * consume every queue, and launch each task in a container of its runtime's image (airflow_runtime_policy
 * .celery_worker). PostgreSQL and Redis of their own on 127.0.0.1; every container carries the run's marker.
 *
 * What it checks: one lean worker runs the tasks of both runtimes, each in its image; a second worker started
 * while a task holds the first takes the next task; the first worker killed with SIGKILL mid-task leaves no task
 * container behind.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  Api, Container, DEPLOYMENT_IMAGE, Fatal, RUN, cleanupAll, freePort, log, needs, onCleanup, problems, runOnce,
  scratch, startPostgres, startRedis, waitFor, type ContainerSpec,
} from './deployment';

const HERE = __dirname;
const CLI = path.join(HERE, '../../dist/cli.js');
const TEAM_IMAGES = ['airflow-runtime-test/team-a:3.3.2', 'airflow-runtime-test/team-b:3.3.2'];
const DEPLOYMENT_LABEL = 'airflow-runtime.deployment';
const TI_LABEL = 'airflow-runtime.ti-id';
const LAUNCHED_BY = 'airflow-runtime.launched-by';

interface Runtime { id: string; image: string; queue: string; env: Record<string, string | null>; bundles: { name: string; path: string }[] }
interface Manifest { dagsFolder: string; runtimes: Runtime[] }
interface TaskInstance { id: string; task_id: string; state: string | null; try_number: number }

const docker = (args: string[]) => spawnSync('docker', args, { encoding: 'utf8' });
const taskContainers = (filter = '') => docker(['ps', '-aq', '--filter', `label=${DEPLOYMENT_LABEL}=${RUN}`, ...(filter ? ['--filter', filter] : [])]).stdout.split('\n').filter(Boolean);
const containerOf = (tiId: string) => taskContainers(`label=${TI_LABEL}=${tiId}`)[0];

describe('lean Celery workers: one pool runs every runtime, each task in its image', needs(problems([...TEAM_IMAGES])), () => {
  let api: Api;
  let manifest: Manifest;
  const containers: Container[] = [];
  /** Which worker launched the container of each task instance (docker events, the container's label). */
  const launchedBy = new Map<string, string>();
  let events: ChildProcess | undefined;
  let workerSpec: (name: string) => ContainerSpec;
  const checkAll = () => containers.forEach((c) => c.checkRunning());

  before(async () => {
    const t0 = Date.now();
    try {
      await deploy();
    } catch (error) {
      for (const container of containers) log(`--- ${container.spec.role} (last lines)\n${container.logs(60)}`);
      throw error;
    } finally {
      log(`lean Celery deployment up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  }, { timeout: 10 * 60_000 });

  afterEach((t) => {
    if (!(t as unknown as { passed?: boolean }).passed) for (const c of containers) log(`--- ${c.spec.role} (last lines)\n${c.logs(60)}`);
  });

  after(() => {
    events?.kill();
    cleanupAll();
  });

  async function deploy(): Promise<void> {
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
    const logs = path.join(dir, 'logs');
    mkdirSync(logs);
    chmodSync(logs, 0o777);

    // killed on every way out (an interrupted run too), not only after the tests
    onCleanup(() => events?.kill());
    events = spawn('docker', ['events', '--format', '{{json .}}', '--filter', `label=${DEPLOYMENT_LABEL}=${RUN}`, '--filter', 'event=start'], { stdio: ['ignore', 'pipe', 'ignore'] });
    events.stdout!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        const { Actor } = JSON.parse(line) as { Actor: { Attributes: Record<string, string> } };
        launchedBy.set(Actor.Attributes[TI_LABEL], Actor.Attributes[LAUNCHED_BY]);
      }
    });

    const [pgPort, redisPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const [database, broker] = await Promise.all([startPostgres(dir, pgPort), startRedis(redisPort)]);
    const bundles = manifest.runtimes.flatMap((runtime) => runtime.bundles.map((bundle) => ({
      name: bundle.name,
      classpath: 'airflow.dag_processing.bundles.local.LocalDagBundle',
      kwargs: { path: path.posix.join(dagsFolder, bundle.path), refresh_interval: 0 },
    })));
    const secret = randomBytes(24).toString('hex');
    const env: Record<string, string> = {
      AIRFLOW__CORE__EXECUTOR: 'CeleryExecutor',
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: database.replace(/^postgresql:/, 'postgresql+psycopg2:'),
      AIRFLOW__CELERY__RESULT_BACKEND: `db+${database}`,
      AIRFLOW__CELERY__BROKER_URL: broker,
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
      AIRFLOW_RUNTIME_MANIFEST: manifestFile,
      AIRFLOW_RUNTIME_DAGS_FOLDER: dagsFolder,
      AIRFLOW_RUNTIME_MODE: 'celery',
    };
    const mounts = [{ path: project }, { path: logs, rw: true }, { path: out }];
    const spec = (role: string, image: string, command: string[], extra: Record<string, string> = {}, more: ContainerSpec['mounts'] = []): ContainerSpec =>
      ({ role, image, command, env: { ...env, ...extra }, mounts: [...mounts, ...more] });
    const queues = manifest.runtimes.map((r) => r.queue).join(',');
    // The lean worker: the deployment image, every runtime's queue, one task at a time, tasks in their containers.
    workerSpec = (name) => spec(name, DEPLOYMENT_IMAGE,
      ['airflow', 'celery', 'worker', '--queues', queues, '--concurrency', '1', '--skip-serve-logs', '--celery-hostname', `${name}@%h`], {
        AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS: 'airflow_runtime_policy.celery_worker.CELERY_CONFIG',
        AIRFLOW_RUNTIME_EXECUTION_API_URL: `http://127.0.0.1:${apiPort}/execution/`,
        AIRFLOW_RUNTIME_DOCKER_NETWORK: 'host',
        AIRFLOW_RUNTIME_DEPLOYMENT: RUN,
        AIRFLOW_RUNTIME_LOGS_SOURCE: logs,
      }, [{ path: '/var/run/docker.sock', rw: true }]);

    const syncBundles = 'from airflow.dag_processing.bundles.manager import DagBundlesManager; DagBundlesManager().sync_bundles_to_db()';
    await runOnce(spec('migrate', DEPLOYMENT_IMAGE, ['bash', '-c', `airflow db migrate && python -c '${syncBundles}'`]), 5 * 60_000);
    containers.push(Container.start(spec('api-server', DEPLOYMENT_IMAGE, ['airflow', 'api-server', '--host', '127.0.0.1', '--port', String(apiPort), '--workers', '1'])));
    containers.push(Container.start(spec('scheduler', DEPLOYMENT_IMAGE, ['airflow', 'scheduler', '--skip-serve-logs'])));
    for (const runtime of manifest.runtimes) {
      const own = { ...(runtime.env as Record<string, string>), AIRFLOW_RUNTIME_ID: runtime.id };
      for (const bundle of runtime.bundles) containers.push(Container.start(spec(`dag-processor-${bundle.name}`, runtime.image, ['airflow', 'dag-processor', '--bundle-name', bundle.name], own)));
    }
    containers.push(Container.start(workerSpec('lean-1')));
    api = new Api(`http://127.0.0.1:${apiPort}`);
    await waitFor('the API server, the scheduler and the DAG processors to be healthy', 4 * 60_000, async () => {
      const health = await api.get<Record<string, { status: string | null }>>('/api/v2/monitor/health');
      return ['metadatabase', 'scheduler', 'dag_processor'].every((part) => health[part]?.status === 'healthy') ? health : undefined;
    }, checkAll);
    // The Execution API's first request is slow on a cold API server (tens of seconds here): longer than a task's
    // supervisor waits. Made once, before any task runs.
    const cold = await fetch(`http://127.0.0.1:${apiPort}/execution/task-instances/01a23bf8-d4d3-7521-81cc-4b16bfa1fb63/run`, {
      method: 'PATCH', headers: { authorization: 'Bearer x', 'content-type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(5 * 60_000),
    });
    assert.equal(cold.status, 403);
    const expected = ['lifecycle_wait', 'team_a_orders', 'team_b_reports'];
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
  const ended = (dagId: string, runId: string) => waitFor(`${dagId} ${runId} to end`, 4 * 60_000, async () => {
    const { state } = await api.get<{ state: string }>(runRoute(dagId, runId));
    return state === 'success' || state === 'failed' ? taskInstances(dagId, runId) : undefined;
  }, checkAll);
  const taskLog = (dagId: string, runId: string, ti: TaskInstance) =>
    api.taskLog(`${runRoute(dagId, runId)}/taskInstances/${ti.task_id}/logs/${Math.max(ti.try_number, 1)}?full_content=true`).catch((e: Error) => e.message);
  /** The run's task, once its container runs: the task instance and the worker that launched it. */
  const runningIn = (dagId: string, runId: string) => waitFor(`${runId} to run in a container`, 3 * 60_000, async () => {
    const [ti] = await taskInstances(dagId, runId);
    return ti?.state === 'running' && containerOf(ti.id) && launchedBy.get(ti.id) ? { ti, worker: launchedBy.get(ti.id)! } : undefined;
  }, checkAll);

  it('the worker image holds neither runtime\'s packages', () => {
    for (const pkg of ['toolz', 'emoji']) {
      const probe = docker(['run', '--rm', '--network', 'none', '--label', `airflow-runtime.production-test=${RUN}`, DEPLOYMENT_IMAGE, 'python', '-c', `import ${pkg}`]);
      assert.notEqual(probe.status, 0, `${pkg} is in the worker image`);
    }
  });

  it('one lean worker runs the tasks of both runtimes, each in its own image', async () => {
    const runs = [['team_a_orders', 'team-a', 'toolz'], ['team_b_reports', 'team-b', 'emoji']] as const;
    const ids = await Promise.all(runs.map(([dagId]) => trigger(dagId)));
    for (const [i, [dagId, team, pkg]] of runs.entries()) {
      const tis = await ended(dagId, ids[i]);
      const logs = await Promise.all(tis.map((ti) => taskLog(dagId, ids[i], ti)));
      assert.deepEqual(tis.map((ti) => ti.state), tis.map(() => 'success'), `${dagId}:\n${logs.join('\n---\n').slice(-4000)}`);
      for (const ti of tis) {
        const xcom = await api.get<{ value: unknown }>(`${runRoute(dagId, ids[i])}/taskInstances/${ti.task_id}/xcomEntries/return_value`);
        const seen = (typeof xcom.value === 'string' ? JSON.parse(xcom.value) : xcom.value) as { marker: string; packages: Record<string, string | null> };
        assert.deepEqual([seen.marker, seen.packages[pkg] !== null], [team, true], `${dagId}.${ti.task_id}`);
        assert.match(launchedBy.get(ti.id) ?? '', /^lean-1@/, `${dagId}.${ti.task_id} was launched by the lean worker`);
      }
    }
    await waitFor('every ended task\'s container to be removed', 2 * 60_000, () => (taskContainers().length ? undefined : true), checkAll);
  });

  it('a worker started mid-run takes tasks, and a worker killed mid-task leaves no task container', async () => {
    const first = await trigger('lifecycle_wait');
    const held = await runningIn('lifecycle_wait', first);
    assert.match(held.worker, /^lean-1@/);
    const second = await trigger('lifecycle_wait');
    const lean2 = Container.start(workerSpec('lean-2'));
    containers.push(lean2);
    const taken = await runningIn('lifecycle_wait', second);
    assert.match(taken.worker, /^lean-2@/, 'the worker started mid-run took the task the busy one could not');

    const lean1 = containers.find((c) => c.spec.role === 'lean-1')!;
    containers.splice(containers.indexOf(lean1), 1);
    assert.equal(docker(['kill', '--signal', 'KILL', lean1.id]).status, 0);
    await waitFor('the killed worker\'s task container to be gone', 2 * 60_000, () => (containerOf(held.ti.id) ? undefined : true), checkAll);

    await api.post('/api/v2/variables', { key: `release-${second}`, value: 'go' });
    const [done] = await ended('lifecycle_wait', second);
    assert.equal(done.state, 'success', await taskLog('lifecycle_wait', second, done));
    await waitFor('the finished task\'s container to be removed', 2 * 60_000, () => (containerOf(taken.ti.id) ? undefined : true), checkAll);
  });
});
