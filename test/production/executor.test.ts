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
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { Api, Container, DEPLOYMENT_IMAGE, Fatal, freePort, log, needs, problems, startPostgres, waitFor } from './deployment';
import {
  TEAM_IMAGES, TI_LABEL, type ManifestRuntime, type TaskInstance as BaseTaskInstance, airflowEnv, bundlesOf, containerOf, dagRuns, deploymentHooks, docker,
  exportProject, firstExecutionApiRequest, launcherEnv, migrate, removeTaskContainersAtCleanup, specsFor, startApiServer, startDagProcessors, taskContainers,
  waitHealthy, waitParsed, watchTaskContainerStarts,
} from './airflow3';

interface Runtime extends ManifestRuntime { container: { hostConfig: Record<string, unknown> } }
interface Manifest { dagsFolder: string; runtimes: Runtime[]; files: { path: string; runtime: string }[] }
interface TaskInstance extends BaseTaskInstance { queued_when: string | null; start_date: string | null }

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
  const checkAll = () => containers.forEach((c) => c.checkRunning());

  // a failed test shows what each component said last (the API server's log is the long one)
  deploymentHooks('executor deployment', containers, deploy, (role) => (role === 'api-server' ? 150 : 40));

  async function deploy(): Promise<void> {
    removeTaskContainersAtCleanup();
    const exported = exportProject<Manifest>({ lifecycle: true });
    manifest = exported.manifest;
    watchTaskContainerStarts((labels, atMs) => started.set(labels[TI_LABEL], atMs));

    const [pgPort, apiPort] = [await freePort(), await freePort()];
    const database = await startPostgres(exported.dir, pgPort);
    const bundles = bundlesOf(manifest.runtimes, exported.dagsFolder);
    const env: Record<string, string> = {
      ...airflowEnv(exported, { executor: 'airflow_runtime_policy.executor.ContainerTaskExecutor', database, apiPort, bundles }),
      // A killed scheduler's job is found dead, and its tasks offered for adoption, within seconds
      AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD: '10',
      AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL: '5',
    };
    const launcher: Record<string, string> = {
      ...launcherEnv(apiPort, exported.logs),
      AIRFLOW_RUNTIME_BUNDLE_SOURCES: JSON.stringify(Object.fromEntries(bundles.map((b) => [b.name, b.kwargs.path]))),
    };
    const spec = specsFor(env, exported);

    await migrate(spec);
    containers.push(startApiServer(spec, apiPort));
    scheduler = Container.start(spec('scheduler', DEPLOYMENT_IMAGE, ['airflow', 'scheduler', '--skip-serve-logs'], launcher, [{ path: '/var/run/docker.sock', rw: true }]));
    containers.push(scheduler);
    containers.push(...startDagProcessors(spec, manifest.runtimes));
    api = new Api(`http://127.0.0.1:${apiPort}`);
    await waitHealthy(api, checkAll);
    const warm = Date.now();
    const cold = await firstExecutionApiRequest(apiPort);
    log(`first Execution API request: HTTP ${cold.status} after ${Date.now() - warm} ms`);
    await waitParsed(api, ['lifecycle_daemon', 'lifecycle_wait', 'team_a_orders', 'team_b_reports'], checkAll);
  }

  const { runRoute, taskInstances, trigger, taskLog, ended: endedWithin } = dagRuns<TaskInstance>(() => api, checkAll);
  const ended = (dagId: string, runId: string) => endedWithin(dagId, runId, 3 * 60_000);
  async function runningTask(dagId: string, runId: string): Promise<{ ti: TaskInstance; container: string }> {
    return waitFor(`${dagId} to run in its container`, 3 * 60_000, async () => {
      const [ti] = await taskInstances(dagId, runId);
      if (ti && ['failed', 'success', 'upstream_failed'].includes(ti.state ?? '')) throw new Fatal(`${dagId} ended ${ti.state} before the test acted:\n${await taskLog(dagId, runId, ti)}`);
      const container = ti?.state === 'running' ? containerOf(ti.id) : undefined;
      return container ? { ti, container } : undefined;
    }, checkAll);
  }
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
