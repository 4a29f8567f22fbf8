/** `airflow-runtime export`'s core: runtime ids, parse bundles, the mixed-folder refusal, secrets, the manifest's schema. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import type Docker from 'dockerode';
import { repoDigestOf } from '../../src/core/engine/docker/images';
import { hardenedHostConfig } from '../../src/core/engine/docker/hardening';
import { bundleName, planBundles } from '../../src/core/export/bundles';
import { bundleConfigList, deployCommandsText } from '../../src/core/export/fragments';
import { buildManifest, manifestText } from '../../src/core/export/manifest';
import { canonicalJson, runtimeId } from '../../src/core/export/runtimeId';
import { resolveRuntime } from '../../src/core/runtime/resolve';
import { fakeDisk, read, where } from './helpers';

const schema = JSON.parse(readFileSync(path.join(__dirname, '../../media/manifest.schema.json'), 'utf8'));
const validateManifest = new Ajv({ allErrors: true, strict: false }).compile(schema);

/** A project at /ws (DAGs folder /ws/dags) of runtime files by path, and the DAG files to export. */
function exportOf(runtimeFiles: Record<string, string>, dagFiles: string[], digests: Record<string, string> = {}) {
  const probe = fakeDisk(...Object.keys(runtimeFiles), ...dagFiles, 'include/', 'lib/');
  const files = dagFiles.map((dag) => ({
    file: `/ws/${dag}`,
    runtime: resolveRuntime(`/ws/${dag}`, { workspaceRoot: '/ws', readText: (f) => runtimeFiles[f.replace(/^\/ws\//, '')], probe }),
  }));
  for (const { runtime } of files) assert.deepEqual(runtime.problems, []);
  return buildManifest({
    files, projectRoot: '/ws', dagRoot: '/ws/dags', digests: new Map(Object.entries(digests)), generator: 'airflow-runtime test',
    show: (file) => path.relative('/ws', file),
  });
}

const TEAMS = {
  'dags/airflow-runtime.yaml': 'image: airflow:2.11.2\nenv:\n  STAGE: dev\n',
  'dags/team_b/airflow-runtime.yaml': 'image: airflow:3.3.2\n',
};

describe('runtime id', () => {
  const identity = { image: 'img:1', env: { B: '2', A: '1' }, pythonPath: ['lib'], airflowConfig: { core: { x: 1 } } };

  it('is rt- and the first 12 hex digits of the SHA-256 of the canonical JSON (sorted keys, no spaces)', () => {
    const canonical = '{"airflowConfig":{"core":{"x":1}},"env":{"A":"1","B":"2"},"image":"img:1","pythonPath":["lib"]}';
    assert.equal(canonicalJson({ image: 'img:1', env: { B: '2', A: '1' }, pythonPath: ['lib'], airflowConfig: { core: { x: 1 } } }), canonical);
    assert.equal(runtimeId(identity), `rt-${createHash('sha256').update(canonical).digest('hex').slice(0, 12)}`);
  });

  it('does not depend on the order of keys; each value changes it', () => {
    assert.equal(runtimeId({ ...identity, env: { A: '1', B: '2' } }), runtimeId(identity));
    const others = [
      { ...identity, image: 'img:2' }, { ...identity, image: `img@sha256:${'a'.repeat(64)}` }, { ...identity, env: { A: '1', B: '3' } },
      { ...identity, pythonPath: [] }, { ...identity, airflowConfig: {} }, { ...identity, deploy: { queue: 'q' } },
    ];
    assert.equal(new Set([runtimeId(identity), ...others.map(runtimeId)]).size, others.length + 1);
  });

  it('resources, timeouts and the editor\'s mounts do not change it; pythonPath is relative to the project, so the id is the same anywhere', () => {
    const plain = exportOf(TEAMS, ['dags/team_a/etl.py']).manifest!;
    const tuned = exportOf({
      ...TEAMS,
      'dags/team_a/airflow-runtime.yaml': 'resources:\n  memory: 2g\ntimeouts:\n  run: 5m\nmounts:\n  - {source: ../../include, target: /inc}\n',
    }, ['dags/team_a/etl.py']).manifest!;
    assert.equal(tuned.runtimes[0].id, plain.runtimes[0].id);
    assert.deepEqual(tuned.runtimes[0].resources, { memory: '2g', cpus: null });
    const local = exportOf({ 'dags/airflow-runtime.yaml': 'image: i:1\npythonPath: [../lib]\n' }, ['dags/a.py']).manifest!;
    assert.equal(local.runtimes[0].id, runtimeId({ image: 'i:1', env: {}, pythonPath: ['lib'], airflowConfig: {} }));
  });

  it('a digest the engine knows is in the manifest, but not in the id: the files alone decide it', () => {
    const digest = `sha256:${'b'.repeat(64)}`;
    const known = exportOf(TEAMS, ['dags/a.py'], { 'airflow:2.11.2': digest }).manifest!;
    const unknown = exportOf(TEAMS, ['dags/a.py']).manifest!;
    assert.equal(known.runtimes[0].digest, digest);
    assert.equal(unknown.runtimes[0].digest, null);
    assert.equal(known.runtimes[0].id, unknown.runtimes[0].id);
  });
});

describe('bundles', () => {
  it('one bundle of the DAGs folder itself when every DAG file has one runtime', () => {
    assert.deepEqual(planBundles([{ path: 'a.py', runtime: 'rt-1' }, { path: 'x/y/b.py', runtime: 'rt-1' }]), { bundles: [{ runtime: 'rt-1', path: '.' }], mixed: [] });
    assert.equal(bundleName({ runtime: 'rt-1', path: '.' }), 'airflow-runtime-rt-1-root');
    assert.equal(bundleName({ runtime: 'rt-1', path: 'team_a/etl' }), 'airflow-runtime-rt-1-team_a_etl');
  });

  it('each folder whose DAG files at any depth share a runtime, as high up as possible, none inside another', () => {
    const plan = planBundles([
      { path: 'team_a/etl/a.py', runtime: 'rt-a' }, { path: 'team_a/ml/b.py', runtime: 'rt-a' },
      { path: 'team_b/c.py', runtime: 'rt-b' }, { path: 'team_b/deep/d.py', runtime: 'rt-b' },
      { path: 'team_c/x/e.py', runtime: 'rt-a' }, { path: 'team_c/y/f.py', runtime: 'rt-c' },
    ]);
    assert.deepEqual(plan.mixed, []);
    assert.deepEqual(plan.bundles, [
      { runtime: 'rt-a', path: 'team_a' }, { runtime: 'rt-a', path: 'team_c/x' }, { runtime: 'rt-b', path: 'team_b' }, { runtime: 'rt-c', path: 'team_c/y' },
    ]);
  });

  it('a folder whose own DAG files differ in runtime is mixed', () => {
    const plan = planBundles([{ path: 'team/a.py', runtime: 'rt-a' }, { path: 'team/b.py', runtime: 'rt-b' }]);
    assert.deepEqual(plan.mixed, [{ folder: 'team', direct: [{ path: 'team/a.py', runtime: 'rt-a' }, { path: 'team/b.py', runtime: 'rt-b' }], below: [] }]);
  });

  it('a folder with DAG files of its own and a subfolder of another runtime is mixed: its bundle would take the subfolder', () => {
    const plan = planBundles([{ path: 'a.py', runtime: 'rt-a' }, { path: 'team_b/b.py', runtime: 'rt-b' }]);
    assert.deepEqual(plan.mixed.map((m) => m.folder), ['.']);
    assert.deepEqual(plan.bundles, [{ runtime: 'rt-b', path: 'team_b' }]);
  });
});

describe('the mixed-folder refusal', () => {
  it('is an error at the runtime file\'s line that makes the difference, with a layout that works', () => {
    const { manifest, problems } = exportOf({
      ...TEAMS, 'dags/team_b/report.airflow-runtime.yaml': '# its own bucket\nenv:\n  BUCKET: s3://x\ntimeouts:\n  run: 1m\n',
    }, ['dags/team_b/report.py', 'dags/team_b/sync.py']);
    assert.equal(manifest, undefined);
    assert.equal(problems.length, 1);
    const [problem] = problems;
    assert.deepEqual([problem.file, problem.start, problem.severity], ['/ws/dags/team_b/report.airflow-runtime.yaml', { line: 3, column: 3 }, 'error']);
    assert.match(problem.message, /^`env\.BUCKET` gives dags\/team_b\/report\.py another runtime \(rt-[0-9a-f]{12}\) than dags\/team_b\/sync\.py \(rt-[0-9a-f]{12}\), in the same folder/);
    assert.match(problem.message, /a subfolder per runtime, e\.g\. dags\/team_b\/report\/ for report\.py and report\.airflow-runtime\.yaml, and dags\/team_b\/sync\/ for sync\.py/);
  });

  it('a subfolder of another runtime under a folder with DAG files of its own is refused at the subfolder\'s runtime file', () => {
    const { manifest, problems } = exportOf(TEAMS, ['dags/shared.py', 'dags/team_b/b.py', 'dags/team_a/a.py']);
    assert.equal(manifest, undefined);
    assert.deepEqual(problems.map((p) => [p.file, p.start.line, p.start.column]), [['/ws/dags/team_b/airflow-runtime.yaml', 1, 1]]);
    assert.match(problems[0].message, /^`image` gives the DAG files under dags\/team_b\/ .* a bundle or --subdir of dags\/ would take dags\/team_b\/ with it.*move shared\.py directly in dags\/ into a subfolder, e\.g\. dags\/shared\//);
  });

  it('files of one runtime with different resources are refused: a runtime has one worker and one pod spec', () => {
    const { problems } = exportOf({ ...TEAMS, 'dags/team_a/big.airflow-runtime.yaml': 'resources:\n  memory: 8g\n' }, ['dags/team_a/big.py', 'dags/team_a/small.py']);
    assert.deepEqual(problems.map((p) => [p.file, p.start.line]), [['/ws/dags/team_a/big.airflow-runtime.yaml', 2]]);
    assert.match(problems[0].message, /`resources\.memory` differs between dags\/team_a\/big\.py and dags\/team_a\/small\.py/);
  });
});

describe('secrets in the manifest', () => {
  const files = {
    'dags/airflow-runtime.yaml': [
      'image: airflow:2.11.2', 'env:', '  PARTNER_API_KEY: k3y-value', '  REGION: eu', 'variables:', '  bucket: s3://b', '  db_password: pa55word',
      'connections:', '  warehouse: postgres://etl:s3cr3t-pw@db:5432/w', '  public_http: http://example.com', '',
    ].join('\n'),
  };

  it('are null with their names kept; other values are kept', () => {
    const runtime = exportOf(files, ['dags/a.py']).manifest!.runtimes[0];
    assert.deepEqual(runtime.env, {
      AIRFLOW_CONN_PUBLIC_HTTP: 'http://example.com', AIRFLOW_CONN_WAREHOUSE: null, AIRFLOW_VAR_BUCKET: 's3://b', AIRFLOW_VAR_DB_PASSWORD: null,
      PARTNER_API_KEY: null, REGION: 'eu',
    });
  });

  it('never reach the manifest\'s bytes, yet a changed secret is another runtime', () => {
    const text = manifestText(exportOf(files, ['dags/a.py']).manifest!);
    for (const secret of ['k3y-value', 'pa55word', 's3cr3t-pw']) assert.ok(!text.includes(secret), secret);
    const changed = { 'dags/airflow-runtime.yaml': files['dags/airflow-runtime.yaml'].replace('pa55word', 'other-pw') };
    assert.notEqual(exportOf(changed, ['dags/a.py']).manifest!.runtimes[0].id, exportOf(files, ['dags/a.py']).manifest!.runtimes[0].id);
  });
});

describe('the manifest', () => {
  const runtimeFiles = {
    ...TEAMS,
    'dags/team_a/airflow-runtime.yaml': 'deploy:\n  queue: team_a\n  executor: celery_a\nresources:\n  memory: 2g\n  cpus: 1.5\n',
    'dags/team_b/airflow-runtime.yaml': 'image: airflow:3.3.2\nairflowConfig:\n  core:\n    parallelism: 8\n',
  };
  const dags = ['dags/team_b/x/c.py', 'dags/team_a/b.py', 'dags/team_a/a.py'];

  it('has the contract\'s shape, validates against media/manifest.schema.json, and sorts runtimes by id and files by path', () => {
    const { manifest, problems } = exportOf(runtimeFiles, dags);
    assert.deepEqual(problems, []);
    assert.ok(validateManifest(manifest), JSON.stringify(validateManifest.errors, null, 2));
    assert.deepEqual(Object.keys(manifest!), ['format', 'generator', 'dagsFolder', 'runtimes', 'files']);
    assert.deepEqual(Object.keys(manifest!.runtimes[0]), ['id', 'image', 'digest', 'queue', 'executor', 'env', 'resources', 'bundles', 'container']);
    assert.equal(manifest!.dagsFolder, 'dags');
    assert.deepEqual(manifest!.files.map((f) => f.path), ['team_a/a.py', 'team_a/b.py', 'team_b/x/c.py']);
    assert.deepEqual(manifest!.runtimes.map((r) => r.id), [...manifest!.runtimes.map((r) => r.id)].sort());
    const teamA = manifest!.runtimes.find((r) => r.queue === 'team_a')!;
    assert.deepEqual([teamA.executor, teamA.resources, teamA.bundles], [
      'celery_a', { memory: '2g', cpus: 1.5 }, [{ name: `airflow-runtime-${teamA.id}-team_a`, path: 'team_a' }],
    ]);
    const teamB = manifest!.runtimes.find((r) => r !== teamA)!;
    assert.deepEqual([teamB.queue, teamB.executor, teamB.env.AIRFLOW__CORE__PARALLELISM], [`airflow-runtime-${teamB.id}`, null, '8']);
  });

  it('hardens task containers by the rule of our own containers: resources, no new privileges, no capabilities, not root', () => {
    const { manifest } = exportOf({ ...runtimeFiles, 'dags/team_b/airflow-runtime.yaml': 'image: airflow:3.3.2\nuser: "1234"\n' }, dags);
    const teamA = manifest!.runtimes.find((r) => r.queue === 'team_a')!;
    const teamB = manifest!.runtimes.find((r) => r !== teamA)!;
    assert.deepEqual(teamA.container.hostConfig, hardenedHostConfig({ memory: '2g', cpus: 1.5 }));
    assert.deepEqual(teamA.container.hostConfig, {
      SecurityOpt: ['no-new-privileges'], CapDrop: ['ALL'], CapAdd: ['DAC_OVERRIDE'], PidsLimit: 1024,
      Tmpfs: { '/tmp': `rw,exec,nosuid,nodev,mode=1777,size=${1024 ** 3}` }, Memory: 2 * 1024 ** 3, MemorySwap: 2 * 1024 ** 3, NanoCpus: 1.5e9,
    });
    assert.deepEqual([teamA.container.user, teamA.container.unprivileged.user], [null, '50000:0']);
    assert.deepEqual([teamB.container.user, teamB.container.hostConfig.Memory, teamB.container.hostConfig.NanoCpus], ['1234', 4 * 1024 ** 3, undefined]);
  });

  it('is the same bytes for the same files in another order', () => {
    assert.equal(manifestText(exportOf(runtimeFiles, [...dags].reverse()).manifest!), manifestText(exportOf(runtimeFiles, dags).manifest!));
  });

  it('gives one LocalDagBundle per bundle and the commands per runtime', () => {
    const { manifest, facts } = exportOf(runtimeFiles, dags);
    const teamA = manifest!.runtimes.find((r) => r.queue === 'team_a')!;
    assert.deepEqual(bundleConfigList(manifest!, '/opt/airflow/dags').find((b) => b.kwargs.path === '/opt/airflow/dags/team_a'), {
      name: `airflow-runtime-${teamA.id}-team_a`, classpath: 'airflow.dag_processing.bundles.local.LocalDagBundle', kwargs: { path: '/opt/airflow/dags/team_a' },
    });
    const commands = deployCommandsText(manifest!, facts, '/opt/airflow/dags').split('\n');
    for (const line of [
      `AIRFLOW_RUNTIME_ID=${teamA.id} airflow dag-processor --bundle-name airflow-runtime-${teamA.id}-team_a`,
      `AIRFLOW_RUNTIME_ID=${teamA.id} airflow dag-processor --subdir /opt/airflow/dags/team_a`,
      `AIRFLOW_RUNTIME_ID=${teamA.id} airflow celery worker --queues team_a`,
    ]) assert.ok(commands.includes(line), line);
  });
});

describe('the deploy section of a runtime file', () => {
  it('takes a queue and an executor', () => {
    const file = read('deploy:\n  queue: team_a\n  executor: celery_team_a\n');
    assert.deepEqual(file.problems, []);
    assert.deepEqual(file.values.deploy, { queue: 'team_a', executor: 'celery_team_a' });
  });

  it('a bad queue name or an unknown key is an error at its line, and left out', () => {
    const file = read('deploy:\n  queue: "team a"\n  exector: x\n');
    assert.deepEqual(where(file), ['2:10 error bad-value', '3:3 error unknown-key']);
    assert.match(file.problems[0].message, /`deploy\.queue` must be a queue name/);
    assert.match(file.problems[1].message, /did you mean "executor"\?/);
    assert.equal(file.values.deploy, undefined);
  });

  it('merges key by key: a DAG file\'s own runtime file can set the executor and keep the folder\'s queue', () => {
    const files: Record<string, string> = { 'dags/airflow-runtime.yaml': 'deploy:\n  queue: q\n', 'dags/a.airflow-runtime.yaml': 'deploy:\n  executor: e\n' };
    const runtime = resolveRuntime('/ws/dags/a.py', { workspaceRoot: '/ws', readText: (f) => files[f.replace(/^\/ws\//, '')], probe: fakeDisk('dags/a.py') });
    assert.deepEqual(runtime.values.deploy, { queue: 'q', executor: 'e' });
    assert.deepEqual(runtime.sources['deploy.queue'], { kind: 'file', file: '/ws/dags/airflow-runtime.yaml', line: 2, column: 3 });
  });
});

describe('the image digest', () => {
  const fakeDocker = (repoDigests: string[] | Error) => ({
    getImage: () => ({ inspect: async () => { if (repoDigests instanceof Error) throw repoDigests; return { RepoDigests: repoDigests }; } }),
  }) as unknown as Docker;
  const a = `sha256:${'a'.repeat(64)}`;
  const b = `sha256:${'b'.repeat(64)}`;

  it('is the repo digest of the image\'s own repository, as docker image inspect lists it', async () => {
    assert.equal(await repoDigestOf(fakeDocker([`mirror.example.com/airflow@${b}`, `apache/airflow@${a}`]), 'apache/airflow:2.11.2'), a);
    assert.equal(await repoDigestOf(fakeDocker([`apache/airflow@${a}`]), 'docker.io/apache/airflow:2.11.2'), a);
    assert.equal(await repoDigestOf(fakeDocker([`registry:5000/team/airflow@${b}`]), 'registry:5000/team/airflow:1'), b);
  });

  it('is null for an image built here and never pushed, or not here; an image named by digest is its own', async () => {
    assert.equal(await repoDigestOf(fakeDocker([]), 'airflow-runtime-test/airflow:3.3.2'), null);
    assert.equal(await repoDigestOf(fakeDocker(Object.assign(new Error('no such image'), { statusCode: 404 })), 'x:1'), null);
    assert.equal(await repoDigestOf(fakeDocker(new Error('unused')), `apache/airflow@${a}`), a);
  });
});

describe('routing that cannot be mistaken (issue 21, item 11)', () => {
  it('two runtimes with different images on one deploy.queue are refused at the later one\'s queue line', () => {
    const { manifest, problems } = exportOf({
      'dags/team_a/airflow-runtime.yaml': 'image: team-a/airflow:1\ndeploy:\n  queue: shared\n',
      'dags/team_b/airflow-runtime.yaml': 'image: team-b/airflow:1\ndeploy:\n  queue: shared\n',
    }, ['dags/team_a/a.py', 'dags/team_b/b.py']);
    assert.equal(manifest, undefined);
    assert.deepEqual(problems.map((p) => `${p.file}:${p.start.line}:${p.start.column} ${p.severity}`), ['/ws/dags/team_b/airflow-runtime.yaml:3:3 error']);
    assert.match(problems[0].message, /`deploy\.queue` shared of dags\/team_b\/b\.py \(image team-b\/airflow:1\) is also the queue of dags\/team_a\/a\.py \(image team-a\/airflow:1\)/);
  });

  it('two runtimes of one image may share a queue (one worker pool runs both)', () => {
    const { manifest, problems } = exportOf({
      'dags/team_a/airflow-runtime.yaml': 'image: team/airflow:1\nenv:\n  TEAM: a\ndeploy:\n  queue: shared\n',
      'dags/team_b/airflow-runtime.yaml': 'image: team/airflow:1\nenv:\n  TEAM: b\ndeploy:\n  queue: shared\n',
    }, ['dags/team_a/a.py', 'dags/team_b/b.py']);
    assert.deepEqual(problems, []);
    assert.equal(manifest!.runtimes.length, 2);
  });

  it('a queue name over 200 characters is refused at its line; 200 are fine', () => {
    const long = read(`deploy:\n  queue: ${'q'.repeat(10_000)}\n`);
    assert.deepEqual(where(long), ['2:10 error bad-value']);
    assert.match(long.problems[0].message, /`deploy\.queue` is 10000 characters long: at most 200/);
    assert.deepEqual(read(`deploy:\n  queue: ${'q'.repeat(200)}\n`).problems, []);
  });

  it('Airflow\'s sensitive settings are null in the manifest, their names kept (fernet_key, sql_alchemy_conn, *_cmd)', () => {
    const runtime = exportOf({
      'dags/airflow-runtime.yaml': [
        'image: airflow:2.11.2', 'airflowConfig:', '  core:', '    fernet_key: fernet-0123456789', '    parallelism: 8',
        '  database:', '    sql_alchemy_conn_cmd: cat /run/db', '  smtp:', '    smtp_password: smtp-pa55', '',
      ].join('\n'),
    }, ['dags/a.py']).manifest!.runtimes[0];
    assert.deepEqual(runtime.env, {
      AIRFLOW__CORE__FERNET_KEY: null, AIRFLOW__CORE__PARALLELISM: '8', AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD: null, AIRFLOW__SMTP__SMTP_PASSWORD: null,
    });
  });
});
