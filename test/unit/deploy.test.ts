/** `airflow-runtime up`'s core: the deployment's shape (names, networks, mounts, the executor's settings) and import errors mapped back. */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { importErrorsOf } from '../../src/core/deploy/importErrors';
import { deploymentId, planDeployment, type PlanInput } from '../../src/core/deploy/plan';
import { buildManifest } from '../../src/core/export/manifest';
import { resolveRuntime } from '../../src/core/runtime/resolve';
import { fakeDisk } from './helpers';

const RUNTIME_FILES: Record<string, string> = {
  'dags/team_a/airflow-runtime.yaml': 'image: team-a:3.3.2\nenv:\n  TEAM: a\nresources:\n  memory: 1g\n',
  'dags/team_b/airflow-runtime.yaml': 'image: team-b:3.3.2\n',
};

function manifestOf() {
  const dagFiles = ['dags/team_a/orders.py', 'dags/team_b/reports.py'];
  const probe = fakeDisk(...Object.keys(RUNTIME_FILES), ...dagFiles);
  const files = dagFiles.map((dag) => ({
    file: `/ws/${dag}`,
    runtime: resolveRuntime(`/ws/${dag}`, { workspaceRoot: '/ws', readText: (f) => RUNTIME_FILES[f.replace(/^\/ws\//, '')], probe }),
  }));
  const { manifest } = buildManifest({ files, projectRoot: '/ws', dagRoot: '/ws/dags', digests: new Map(), generator: 'test', show: (f) => f });
  assert.ok(manifest);
  return manifest;
}

function planOf(extra: Partial<PlanInput> = {}) {
  const manifest = manifestOf();
  return planDeployment({
    projectRoot: '/ws', dagRoot: '/ws/dags', dagsFolder: '/opt/airflow/dags', manifest, stateFolder: '/cache/deployments/x',
    controlPlaneImage: 'cp:1', processorImages: new Map(manifest.runtimes.map((r) => [r.id, `processor-of-${r.image}`])), port: 8080,
    executor: 'airflow_runtime_policy.executor.ContainerTaskExecutor', dockerSocket: { path: '/var/run/docker.sock', gid: 998 }, secret: 's3cret',
    ownerLabels: { 'airflow-runtime.user': 'me' }, ...extra,
  });
}

const envOf = (spec: { create: { Env?: string[] } }) => Object.fromEntries((spec.create.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));

describe('the deployment of `up`', () => {
  it('is named after the project, the same from every run, different for another folder of the same name', () => {
    assert.equal(deploymentId('/home/me/Sales Project'), deploymentId('/home/me/Sales Project/'));
    assert.match(deploymentId('/home/me/Sales Project'), /^sales-project-[0-9a-f]{8}$/);
    assert.notEqual(deploymentId('/a/sales'), deploymentId('/b/sales'));
  });

  it('runs the API server, scheduler, triggerer and one DAG processor per bundle, each in its runtime\'s processor image', () => {
    const plan = planOf();
    assert.deepEqual(plan.components.map((c) => c.component).slice(0, 3), ['api-server', 'scheduler', 'triggerer']);
    const processors = plan.components.filter((c) => c.component.startsWith('dag-processor-'));
    assert.equal(processors.length, 2);
    for (const p of processors) {
      const bundle = p.create.Cmd![p.create.Cmd!.indexOf('--bundle-name') + 1];
      const runtime = manifestOf().runtimes.find((r) => r.bundles.some((b) => b.name === bundle))!;
      assert.equal(p.create.Image, `processor-of-${runtime.image}`);
      assert.equal(envOf(p).AIRFLOW_RUNTIME_ID, runtime.id);
      // DAG code runs there: the runtime's own limits, as the manifest gives them to its task containers
      assert.equal(p.create.HostConfig?.Memory, runtime.container.hostConfig.Memory);
    }
    assert.equal(envOf(processors.find((p) => p.create.Image === 'processor-of-team-a:3.3.2')!).TEAM, 'a');
  });

  it('publishes the UI on 127.0.0.1 only, and mounts the DAGs folder read-only everywhere', () => {
    const plan = planOf({ port: 18123 });
    assert.equal(plan.url, 'http://127.0.0.1:18123');
    const api = plan.components.find((c) => c.component === 'api-server')!;
    assert.deepEqual(api.create.HostConfig?.PortBindings, { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '18123' }] });
    for (const spec of plan.components) {
      assert.ok(spec.create.HostConfig?.Binds?.includes('/ws/dags:/opt/airflow/dags:ro'), spec.component);
      assert.ok(!spec.create.HostConfig?.Binds?.some((b) => b.startsWith('/ws') && !b.endsWith(':ro')), `${spec.component} writes nowhere in the project`);
      assert.deepEqual(spec.create.HostConfig?.CapDrop, ['ALL']);
      assert.ok(spec.create.HostConfig?.SecurityOpt?.includes('no-new-privileges'));
    }
  });

  it('keeps the database off the task network: only the API server is on both', () => {
    const plan = planOf();
    assert.equal(plan.db.create.HostConfig?.NetworkMode, plan.names.controlNetwork);
    for (const spec of plan.components) {
      assert.equal(spec.create.HostConfig?.NetworkMode, spec.component === 'api-server' ? plan.names.taskNetwork : plan.names.controlNetwork, spec.component);
    }
    assert.equal(envOf(plan.components[1]).AIRFLOW_RUNTIME_DOCKER_NETWORK, plan.names.taskNetwork);
  });

  it('gives the scheduler the executor\'s settings and the Docker socket, and nobody else the socket', () => {
    const plan = planOf();
    const scheduler = plan.components.find((c) => c.component === 'scheduler')!;
    const env = envOf(scheduler);
    assert.equal(env.AIRFLOW__CORE__EXECUTOR, 'airflow_runtime_policy.executor.ContainerTaskExecutor');
    assert.equal(env.AIRFLOW_RUNTIME_EXECUTION_API_URL, `http://${plan.names.container('api-server')}:8080/execution/`);
    assert.equal(env.AIRFLOW_RUNTIME_DEPLOYMENT, plan.names.id);
    assert.equal(env.AIRFLOW_RUNTIME_LOGS_SOURCE, plan.names.logsVolume);
    assert.deepEqual(JSON.parse(env.AIRFLOW_RUNTIME_BUNDLE_SOURCES), Object.fromEntries(manifestOf().runtimes.flatMap((r) => r.bundles.map((b) => [b.name, path.join('/ws/dags', b.path)]))));
    assert.ok(scheduler.create.HostConfig?.Binds?.includes('/var/run/docker.sock:/var/run/docker.sock'));
    assert.deepEqual(scheduler.create.HostConfig?.GroupAdd, ['998']);
    for (const spec of [plan.db, ...plan.components.filter((c) => c !== scheduler)]) {
      assert.ok(!spec.create.HostConfig?.Binds?.some((b) => b.includes('docker.sock')), spec.component);
    }
  });

  it('keeps its state in volumes named after the project', () => {
    const plan = planOf();
    assert.ok(plan.db.create.HostConfig?.Binds?.some((b) => b.startsWith(`${plan.names.dbVolume}:`)));
    assert.match(plan.names.dbVolume, new RegExp(`^airflow-runtime-${plan.names.id}-db$`));
    for (const spec of [plan.db, plan.migrate, ...plan.components]) assert.equal(spec.create.Labels?.['airflow-runtime.deployment'], plan.names.id);
  });
});

describe('import errors of the DAG processors', () => {
  it('are mapped to the host, at the deepest frame in the project', () => {
    const errors = importErrorsOf([{
      filename: 'orders.py',
      bundle_name: 'airflow-runtime-rt1-team_a',
      stack_trace: [
        'Traceback (most recent call last):',
        '  File "/opt/venv/lib/python3.11/site-packages/airflow/models/dagbag.py", line 390, in parse',
        '  File "/opt/airflow/dags/team_a/orders.py", line 3, in <module>',
        '    import helpers',
        '  File "/opt/airflow/dags/team_a/helpers.py", line 7, in <module>',
        '    import toolz',
        "ModuleNotFoundError: No module named 'toolz'",
      ].join('\n'),
    }], { 'airflow-runtime-rt1-team_a': '/ws/dags/team_a' }, '/ws/dags', '/opt/airflow/dags');
    assert.equal(errors.length, 1);
    assert.equal(errors[0].file, '/ws/dags/team_a/orders.py');
    assert.deepEqual(errors[0].at, { file: '/ws/dags/team_a/helpers.py', line: 7 });
    assert.equal(errors[0].message, "ModuleNotFoundError: No module named 'toolz'");
  });

  it('fall back to the file itself at line 1 when no frame is in the project', () => {
    const [error] = importErrorsOf([{ filename: '/opt/airflow/dags/x.py', bundle_name: null, stack_trace: 'AirflowClusterPolicyViolation: wrong processor' }], {}, '/ws/dags', '/opt/airflow/dags');
    assert.deepEqual(error.at, { file: '/ws/dags/x.py', line: 1 });
  });
});
