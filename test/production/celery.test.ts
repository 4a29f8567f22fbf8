/**
 * Issue 15's "real deployment on one machine": the runtime files of a DAG folder drive a real Airflow 3 Celery
 * deployment. PostgreSQL and Redis (Debian's) on 127.0.0.1, `airflow db migrate`, the API server and the
 * scheduler in the deployment image, one DAG processor per parse bundle inside its runtime's image, one Celery
 * worker per runtime inside its image consuming its queue; every container on the host network.
 *
 * Then it triggers each DAG through Airflow's REST API and checks that every task ran in its own image (the
 * marker file, the package only that image has, the runtime id, the queue) and that each DAG was parsed by its
 * own processor (the DAG's bundle in the metadata DB, the marker the DAG file read at parse time); a DAG file
 * added without re-exporting the manifest is refused by the policy's dag_policy as an import error.
 *
 * The manifest is what `airflow-runtime export` writes for the project; the policy is the airflow-runtime-policy
 * wheel built from policy/ and installed in every image (scripts/env/production.sh).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Api, Container, DEPLOYMENT_IMAGE, Fatal, cleanupAll, freePort, log, needs, problems, startPostgres, startRedis, waitFor } from './deployment';
import { PROJECT, type ManifestRuntime, airflowEnv, bundlesOf, celeryEnv, exportProject, migrate, specsFor, startApiServer, waitHealthy } from './airflow3';

interface Runtime extends ManifestRuntime {
  queue: string;
  executor: string | null;
}
interface Manifest {
  format: string;
  dagsFolder: string;
  runtimes: Runtime[];
  files: { path: string; runtime: string }[];
}

/** The images must carry the airflow-runtime-policy wheel (production.sh builds it from policy/ and labels them). */
function policyInImages(): void {
  const installed = imageLabel(DEPLOYMENT_IMAGE, 'airflow-runtime.policy');
  assert.ok(installed && installed !== 'none', `${DEPLOYMENT_IMAGE} has no airflow-runtime-policy wheel: run scripts/env/production.sh`);
}

const imageLabel = (image: string, label: string) =>
  spawnSync('docker', ['image', 'inspect', '--format', `{{ index .Config.Labels "${label}" }}`, image], { encoding: 'utf8' }).stdout.trim();

/** A DAG file put in team B's folder after the export: its runtime file names team A's image. */
const MISROUTED = {
  path: 'team_b/misrouted.py',
  text: [
    '"""Added after the manifest was exported: team B\'s processor must refuse it (dag_policy)."""',
    'from airflow.sdk import dag, task',
    '',
    '',
    '@dag(dag_id="misrouted", schedule=None)',
    'def misrouted():',
    '    @task',
    '    def hello():',
    '        return 1',
    '',
    '    hello()',
    '',
    '',
    'misrouted()',
    '',
  ].join('\n'),
  runtimeFile: 'image: airflow-runtime-test/team-a:3.3.2\n',
};

/** The images the project's runtime files name (scripts/env/production.sh builds them). */
const projectImages = readdirSync(path.join(PROJECT, 'dags'), { recursive: true, encoding: 'utf8' })
  .filter((name) => name.endsWith('airflow-runtime.yaml'))
  .map((name) => /^image:\s*(\S+)/m.exec(readFileSync(path.join(PROJECT, 'dags', name), 'utf8'))?.[1])
  .filter((image): image is string => Boolean(image));
const missing = problems(projectImages);

describe('a Celery deployment driven by the runtime files', needs(missing), () => {
  let api: Api;
  let manifest: Manifest;
  let dagsFolder: string;
  const containers: Container[] = [];
  /** dag id -> what the API says about it, and what its run left. */
  const dags = new Map<string, { file: string; runtime: Runtime; bundle: string; tags: string[]; runId?: string; state?: string }>();
  const timings: string[] = [];
  let phaseStart = Date.now();
  const phase = (name: string) => {
    const now = Date.now();
    timings.push(`${name} ${((now - phaseStart) / 1000).toFixed(1)} s`);
    log(`${name}: ${((now - phaseStart) / 1000).toFixed(1)} s`);
    phaseStart = now;
  };
  const checkAll = () => containers.forEach((c) => c.checkRunning());

  before(async () => {
    const started = Date.now();
    phaseStart = started;
    try {
      await deploy();
    } catch (error) {
      for (const container of containers) log(`--- ${container.spec.role} (last lines)\n${container.logs(40)}`);
      throw error;
    } finally {
      log(`deployment up in ${((Date.now() - started) / 1000).toFixed(1)} s (${timings.join(', ')})`);
    }
  }, { timeout: 10 * 60_000 });

  after(() => cleanupAll());

  async function deploy(): Promise<void> {
    policyInImages();
    const exported = exportProject<Manifest>();
    manifest = exported.manifest;
    assert.equal(manifest.format, 'airflow-runtime/manifest@1');
    dagsFolder = exported.dagsFolder;
    // After the export: a file the manifest does not know.
    writeFileSync(path.join(dagsFolder, MISROUTED.path), MISROUTED.text);
    writeFileSync(path.join(dagsFolder, MISROUTED.path.replace(/\.py$/, '.airflow-runtime.yaml')), MISROUTED.runtimeFile);

    const [pgPort, redisPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const [database, broker] = await Promise.all([startPostgres(exported.dir, pgPort), startRedis(redisPort)]);
    phase('PostgreSQL and Redis');

    const bundles = bundlesOf(manifest.runtimes, dagsFolder);
    const spec = specsFor({ ...airflowEnv(exported, { executor: 'CeleryExecutor', database, apiPort, bundles }), ...celeryEnv(database, broker) }, exported);
    await migrate(spec);
    phase('airflow db migrate, bundles');

    containers.push(startApiServer(spec, apiPort));
    containers.push(Container.start(spec('scheduler', DEPLOYMENT_IMAGE, ['airflow', 'scheduler', '--skip-serve-logs'])));
    for (const runtime of manifest.runtimes) {
      // The runtime's own env goes to its processors and workers; a secret (null) would come from the deployment.
      const secrets = Object.entries(runtime.env).filter(([, v]) => v === null).map(([k]) => k);
      assert.deepEqual(secrets, [], `the test deployment has no secrets to supply for ${runtime.id}`);
      const own = { ...(runtime.env as Record<string, string>), AIRFLOW_RUNTIME_ID: runtime.id };
      for (const bundle of runtime.bundles) {
        containers.push(Container.start(spec(`dag-processor-${bundle.name}`, runtime.image, ['airflow', 'dag-processor', '--bundle-name', bundle.name], own)));
      }
      containers.push(Container.start(spec(`worker-${runtime.id}`, runtime.image,
        ['airflow', 'celery', 'worker', '--queues', runtime.queue, '--concurrency', '2', '--skip-serve-logs', '--celery-hostname', `${runtime.id}@%h`], own)));
    }
    api = new Api(`http://127.0.0.1:${apiPort}`);

    await waitHealthy(api, checkAll);
    phase('API server, scheduler, DAG processors healthy');

    const expected = manifest.files.length;
    await waitFor(`the ${expected} DAG files of the manifest and the misrouted file to be parsed`, 2 * 60_000, async () => {
      const found = await api.get<{ dags: { dag_id: string; fileloc: string; bundle_name: string; tags: { name: string }[] }[] }>('/api/v2/dags?limit=100');
      const errors = await api.get<{ import_errors: { filename: string; stack_trace: string }[] }>('/api/v2/importErrors?limit=100');
      const isMisrouted = (e: { filename: string }) => e.filename.endsWith(path.basename(MISROUTED.path));
      const broken = errors.import_errors.filter((e) => !isMisrouted(e));
      if (broken.length) throw new Fatal(`a DAG file of the manifest did not parse in its runtime:\n${broken.map((e) => `${e.filename}: ${e.stack_trace}`).join('\n')}`);
      const misrouted = errors.import_errors.some(isMisrouted);
      if (found.dags.length < expected || !misrouted) return undefined;
      for (const dag of found.dags) {
        const file = path.relative(dagsFolder, dag.fileloc).split(path.sep).join('/');
        const entry = manifest.files.find((f) => f.path === file);
        const runtime = manifest.runtimes.find((r) => r.id === entry?.runtime);
        assert.ok(runtime, `${dag.dag_id} (${file}) is not a file of the manifest`);
        dags.set(dag.dag_id, { file, runtime, bundle: dag.bundle_name, tags: dag.tags.map((t) => t.name) });
      }
      return true;
    }, checkAll);
    phase('DAG files parsed');

    for (const [dagId, dag] of dags) {
      const run = await api.post<{ dag_run_id: string }>(`/api/v2/dags/${dagId}/dagRuns`, { logical_date: null });
      dag.runId = run.dag_run_id;
    }
    await waitFor('the DAG runs to finish', 3 * 60_000, async () => {
      for (const [dagId, dag] of dags) {
        const route = `/api/v2/dags/${dagId}/dagRuns/${encodeURIComponent(dag.runId!)}`;
        dag.state = (await api.get<{ state: string }>(route)).state;
        // A task sent to a queue no worker of its runtime consumes would wait forever: fail now instead.
        const { task_instances: tis } = await api.get<{ task_instances: { task_id: string; queue: string | null }[] }>(`${route}/taskInstances`);
        const lost = tis.filter((ti) => ti.queue !== null && ti.queue !== dag.runtime.queue);
        if (lost.length) throw new Fatal(`${dagId}: ${lost.map((ti) => `${ti.task_id} is on queue ${ti.queue}`).join(', ')}, not its runtime's ${dag.runtime.queue}`);
      }
      return [...dags.values()].every((d) => d.state === 'success' || d.state === 'failed') ? true : undefined;
    }, checkAll);
    phase('DAG runs');
  }

  const team = (runtime: Runtime) => imageLabel(runtime.image, 'airflow-runtime.team');
  const packageOf = (runtime: Runtime) => imageLabel(runtime.image, 'airflow-runtime.package').split('==');

  it('parses each DAG file in its own processor: its bundle, and the marker of its image read at parse time', () => {
    assert.equal(dags.size, manifest.files.length);
    for (const [dagId, dag] of dags) {
      const bundle = dag.runtime.bundles.find((b) => dag.file.startsWith(`${b.path}/`));
      assert.equal(dag.bundle, bundle?.name, `${dagId}: bundle`);
      assert.ok(dag.tags.includes(`parsed-in:${team(dag.runtime)}`), `${dagId} was parsed in ${team(dag.runtime)}'s image: ${dag.tags}`);
    }
  });

  it('runs every task in its own image, on its runtime\'s queue', async () => {
    const images = manifest.runtimes.map(packageOf);
    for (const [dagId, dag] of dags) {
      const route = `/api/v2/dags/${dagId}/dagRuns/${encodeURIComponent(dag.runId!)}/taskInstances`;
      const { task_instances: tis } = await api.get<{ task_instances: { task_id: string; state: string; queue: string; try_number: number }[] }>(route);
      const logs = await Promise.all(tis.map((ti) => api.taskLog(`${route}/${ti.task_id}/logs/${Math.max(ti.try_number, 1)}?full_content=true`).catch((e: Error) => e.message)));
      if (dag.state !== 'success') {
        for (const c of containers.filter((c) => c.spec.role.startsWith('worker') || c.spec.role === 'scheduler')) log(`--- ${c.spec.role}\n${c.logs(40)}`);
      }
      assert.equal(dag.state, 'success', `${dagId}: ${tis.map((ti, i) => `${ti.task_id}=${ti.state}\n${logs[i].slice(-2000)}`).join('\n')}`);
      assert.ok(tis.length >= 2, `${dagId} has its tasks`);
      const [name, version] = packageOf(dag.runtime);
      for (const ti of tis) {
        assert.equal(ti.queue, dag.runtime.queue, `${dagId}.${ti.task_id}: queue`);
        const xcom = await api.get<{ value: unknown }>(`${route}/${ti.task_id}/xcomEntries/return_value`);
        const seen = (typeof xcom.value === 'string' ? JSON.parse(xcom.value) : xcom.value) as { marker: string; packages: Record<string, string | null>; runtimeId: string };
        assert.equal(seen.marker, team(dag.runtime), `${dagId}.${ti.task_id}: marker`);
        assert.equal(seen.runtimeId, dag.runtime.id, `${dagId}.${ti.task_id}: runtime id`);
        assert.equal(seen.packages[name], version, `${dagId}.${ti.task_id}: ${name}`);
        for (const [other] of images.filter(([n]) => n !== name)) assert.equal(seen.packages[other], null, `${dagId}.${ti.task_id}: ${other} must not be there`);
      }
      // The first task prints where it ran: its log, as the API server serves it, says the same.
      assert.ok(logs.some((text) => text.includes(`ran in {'marker': '${team(dag.runtime)}'`)), `${dagId}: no task log says where it ran:\n${logs.join('\n---\n').slice(-3000)}`);
    }
  });

  it('refuses a DAG file the manifest does not know (a runtime file changed without re-exporting): an import error', async () => {
    const { import_errors: errors } = await api.get<{ import_errors: { filename: string; bundle_name: string; stack_trace: string }[] }>('/api/v2/importErrors?limit=100');
    const error = errors.find((e) => e.filename.endsWith(path.basename(MISROUTED.path)));
    assert.ok(error, JSON.stringify(errors));
    const bundle = manifest.runtimes.flatMap((r) => r.bundles).find((b) => MISROUTED.path.startsWith(`${b.path}/`));
    assert.equal(error.bundle_name, bundle?.name);
    assert.match(error.stack_trace, /AirflowClusterPolicyViolation/);
    assert.ok(!dags.has('misrouted'));
    assert.equal(errors.length, 1, `only the misrouted file: ${JSON.stringify(errors.map((e) => e.filename))}`);
  });
});
