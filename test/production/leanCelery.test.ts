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
import { describe, it } from 'node:test';
import { Api, Container, DEPLOYMENT_IMAGE, RUN, freePort, needs, problems, startPostgres, startRedis, waitFor, type ContainerSpec } from './deployment';
import {
  TEAM_IMAGES, TI_LABEL, type ManifestRuntime, type TaskInstance, airflowEnv, bundlesOf, celeryEnv, containerOf, dagRuns, deploymentHooks, docker,
  exportProject, firstExecutionApiRequest, launcherEnv, migrate, removeTaskContainersAtCleanup, specsFor, startApiServer, startDagProcessors,
  taskContainers, waitHealthy, waitParsed, watchTaskContainerStarts,
} from './airflow3';

const LAUNCHED_BY = 'airflow-runtime.launched-by';

interface Runtime extends ManifestRuntime { queue: string }
interface Manifest { dagsFolder: string; runtimes: Runtime[] }

describe('lean Celery workers: one pool runs every runtime, each task in its image', needs(problems([...TEAM_IMAGES])), () => {
  let api: Api;
  const containers: Container[] = [];
  /** Which worker launched the container of each task instance (docker events, the container's label). */
  const launchedBy = new Map<string, string>();
  let workerSpec: (name: string) => ContainerSpec;
  const checkAll = () => containers.forEach((c) => c.checkRunning());

  deploymentHooks('lean Celery deployment', containers, deploy);

  async function deploy(): Promise<void> {
    removeTaskContainersAtCleanup();
    const exported = exportProject<Manifest>({ lifecycle: true });
    const { manifest } = exported;
    watchTaskContainerStarts((labels) => launchedBy.set(labels[TI_LABEL], labels[LAUNCHED_BY]));

    const [pgPort, redisPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const [database, broker] = await Promise.all([startPostgres(exported.dir, pgPort), startRedis(redisPort)]);
    const bundles = bundlesOf(manifest.runtimes, exported.dagsFolder);
    const spec = specsFor({ ...airflowEnv(exported, { executor: 'CeleryExecutor', database, apiPort, bundles }), ...celeryEnv(database, broker) }, exported);
    const queues = manifest.runtimes.map((r) => r.queue).join(',');
    // The lean worker: the deployment image, every runtime's queue, one task at a time, tasks in their containers.
    workerSpec = (name) => spec(name, DEPLOYMENT_IMAGE,
      ['airflow', 'celery', 'worker', '--queues', queues, '--concurrency', '1', '--skip-serve-logs', '--celery-hostname', `${name}@%h`], {
        AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS: 'airflow_runtime_policy.celery_worker.CELERY_CONFIG',
        ...launcherEnv(apiPort, exported.logs),
      }, [{ path: '/var/run/docker.sock', rw: true }]);

    await migrate(spec);
    containers.push(startApiServer(spec, apiPort));
    containers.push(Container.start(spec('scheduler', DEPLOYMENT_IMAGE, ['airflow', 'scheduler', '--skip-serve-logs'])));
    containers.push(...startDagProcessors(spec, manifest.runtimes));
    containers.push(Container.start(workerSpec('lean-1')));
    api = new Api(`http://127.0.0.1:${apiPort}`);
    await waitHealthy(api, checkAll);
    const cold = await firstExecutionApiRequest(apiPort);
    assert.equal(cold.status, 403);
    await waitParsed(api, ['lifecycle_wait', 'team_a_orders', 'team_b_reports'], checkAll);
  }

  const { runRoute, taskInstances, trigger, taskLog, ended: endedWithin } = dagRuns<TaskInstance>(() => api, checkAll);
  const ended = (dagId: string, runId: string) => endedWithin(dagId, runId, 4 * 60_000);
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
