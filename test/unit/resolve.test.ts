import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveRuntime, runtimeFileCandidates } from '../../src/core/runtime/resolve';
import { settingsLayer } from '../../src/core/runtime/settings';
import { fakeDisk } from './helpers';

/** A workspace of runtime files by path, resolved for a DAG file in it. */
function resolveIn(files: Record<string, string>, dagFile: string, settings?: Record<string, unknown>) {
  const disk = fakeDisk(...Object.keys(files), 'dags/', 'dags/team/', 'include/', 'docker/Dockerfile');
  const layer = settings ? settingsLayer((name) => settings[name]) : undefined;
  return resolveRuntime(`/ws/${dagFile}`, {
    workspaceRoot: '/ws',
    readText: (file) => files[file.replace(/^\/ws\//, '')],
    settings: layer?.layer,
    settingsProblems: layer?.problems,
    probe: disk,
  });
}

describe('which runtime files apply', () => {
  it('each folder file from the workspace root down, then the DAG file\'s own', () => {
    assert.deepEqual(runtimeFileCandidates('/ws/dags/team/etl.py', '/ws'), [
      '/ws/airflow-runtime.yaml', '/ws/dags/airflow-runtime.yaml', '/ws/dags/team/airflow-runtime.yaml', '/ws/dags/team/etl.airflow-runtime.yaml',
    ]);
  });

  it('a DAG file outside the workspace only gets its own folder', () => {
    assert.deepEqual(runtimeFileCandidates('/elsewhere/etl.py', '/ws'), ['/elsewhere/airflow-runtime.yaml', '/elsewhere/etl.airflow-runtime.yaml']);
  });
});

describe('merging layers', () => {
  const files = {
    'airflow-runtime.yaml': 'image: root:1\nenv:\n  A: root\n  B: root\ntimeouts:\n  parse: 10s\nairflowConfig:\n  core:\n    x: 1\n    y: 1\nmounts:\n  - {source: include, target: /inc}\n',
    'dags/airflow-runtime.yaml': 'env:\n  B: dags\n  C: dags\ntimeouts:\n  run: 5m\nairflowConfig:\n  core:\n    y: 2\n  logging:\n    level: DEBUG\n',
    'dags/team/airflow-runtime.yaml': 'image: team:2\nmounts: []\n',
    'dags/team/etl.airflow-runtime.yaml': 'env:\n  C: etl\npull: never\n',
  };

  it('maps merge key by key, lists replace, scalars override', () => {
    const runtime = resolveIn(files, 'dags/team/etl.py');
    assert.deepEqual(runtime.problems, []);
    assert.deepEqual(runtime.values, {
      image: 'team:2',
      pull: 'never',
      dagsFolder: '/opt/airflow/dags',
      timeouts: { parse: '10s', start: '3m', run: '5m' },
      env: { A: 'root', B: 'dags', C: 'etl' },
      airflowConfig: { core: { x: 1, y: 2 }, logging: { level: 'DEBUG' } },
      mounts: [],
    });
  });

  it('every effective value keeps its file and line', () => {
    const { sources } = resolveIn(files, 'dags/team/etl.py');
    assert.deepEqual(sources, {
      image: { kind: 'file', file: '/ws/dags/team/airflow-runtime.yaml', line: 1, column: 1 },
      pull: { kind: 'file', file: '/ws/dags/team/etl.airflow-runtime.yaml', line: 3, column: 1 },
      dagsFolder: { kind: 'default' },
      'timeouts.parse': { kind: 'file', file: '/ws/airflow-runtime.yaml', line: 6, column: 3 },
      'timeouts.start': { kind: 'default' },
      'timeouts.run': { kind: 'file', file: '/ws/dags/airflow-runtime.yaml', line: 5, column: 3 },
      'env.A': { kind: 'file', file: '/ws/airflow-runtime.yaml', line: 3, column: 3 },
      'env.B': { kind: 'file', file: '/ws/dags/airflow-runtime.yaml', line: 2, column: 3 },
      'env.C': { kind: 'file', file: '/ws/dags/team/etl.airflow-runtime.yaml', line: 2, column: 3 },
      'airflowConfig.core.x': { kind: 'file', file: '/ws/airflow-runtime.yaml', line: 9, column: 5 },
      'airflowConfig.core.y': { kind: 'file', file: '/ws/dags/airflow-runtime.yaml', line: 8, column: 5 },
      'airflowConfig.logging.level': { kind: 'file', file: '/ws/dags/airflow-runtime.yaml', line: 10, column: 5 },
      mounts: { kind: 'file', file: '/ws/dags/team/airflow-runtime.yaml', line: 2, column: 1 },
    });
  });

  it('a sibling DAG file does not get another file\'s own runtime file', () => {
    const runtime = resolveIn(files, 'dags/team/other.py');
    assert.equal(runtime.values.pull, 'missing');
    assert.equal(runtime.values.env?.C, 'dags');
  });

  it('paths are made absolute against the runtime file that named them', () => {
    const runtime = resolveIn(files, 'dags/other.py');
    assert.deepEqual(runtime.values.mounts, [{ source: '/ws/include', target: '/inc' }]);
  });

  it('no runtime file at all gives the defaults', () => {
    const runtime = resolveIn({}, 'dags/etl.py');
    assert.deepEqual(runtime.values, { image: 'apache/airflow:2.11.2', pull: 'missing', dagsFolder: '/opt/airflow/dags', timeouts: { parse: '60s', start: '3m', run: '1h' } });
    assert.deepEqual(runtime.files, []);
  });
});

describe('settings sit between the defaults and the runtime files', () => {
  it('a setting overrides a default and is overridden by a file', () => {
    const settings = { 'airflowRuntime.defaultImage': 'settings:1', 'airflowRuntime.timeouts.parse': '2m', 'airflowRuntime.env': { S: '1' } };
    const runtime = resolveIn({ 'dags/airflow-runtime.yaml': 'timeouts:\n  parse: 15s\n' }, 'dags/etl.py', settings);
    assert.equal(runtime.values.image, 'settings:1');
    assert.deepEqual(runtime.sources.image, { kind: 'settings', setting: 'airflowRuntime.defaultImage', file: undefined });
    assert.equal(runtime.values.timeouts?.parse, '15s');
    assert.deepEqual(runtime.sources['env.S'], { kind: 'settings', setting: 'airflowRuntime.env', file: undefined });
  });

  it('an invalid setting is reported and left out', () => {
    const runtime = resolveIn({}, 'dags/etl.py', { 'airflowRuntime.pull': 'sometimes' });
    assert.equal(runtime.values.pull, 'missing');
    assert.equal(runtime.problems.length, 1);
    assert.match(runtime.problems[0].message, /^setting airflowRuntime.pull: `pull` must be one of always, missing, never/);
  });
});

describe('how the image is made', () => {
  it('an image in a more specific file drops an inherited build', () => {
    const files = {
      'dags/airflow-runtime.yaml': 'build:\n  context: ../docker\n',
      'dags/team/airflow-runtime.yaml': 'image: team:2\n',
    };
    assert.deepEqual(resolveIn(files, 'dags/etl.py').values.build, { context: '/ws/docker' });
    const team = resolveIn(files, 'dags/team/etl.py');
    assert.equal(team.values.build, undefined);
    assert.equal(team.sources.build, undefined);
    assert.equal(team.values.image, 'team:2');
  });

  it('build replaces as a whole', () => {
    const files = {
      'airflow-runtime.yaml': 'build:\n  context: docker\n  target: dev\n',
      'dags/airflow-runtime.yaml': 'build:\n  context: ../docker\n  dockerfile: Dockerfile\n',
    };
    assert.deepEqual(resolveIn(files, 'dags/etl.py').values.build, { context: '/ws/docker', dockerfile: 'Dockerfile' });
  });
});

describe('a bad runtime file never stops resolution', () => {
  it('valid values are used, invalid ones reported', () => {
    const files = { 'dags/airflow-runtime.yaml': 'image: good:1\npull: sometimes\nenv:\n  OK: "1"\n  1NO: "2"\n' };
    const runtime = resolveIn(files, 'dags/etl.py');
    assert.equal(runtime.values.image, 'good:1');
    assert.equal(runtime.values.pull, 'missing');
    assert.deepEqual(runtime.values.env, { OK: '1' });
    assert.deepEqual(runtime.problems.map((p) => `${p.file}:${p.start.line}`), ['/ws/dags/airflow-runtime.yaml:2', '/ws/dags/airflow-runtime.yaml:5']);
  });

  it('a file with a syntax error is skipped, the others apply', () => {
    const files = { 'airflow-runtime.yaml': 'image: root:1\n', 'dags/airflow-runtime.yaml': 'image: [broken\n' };
    const runtime = resolveIn(files, 'dags/etl.py');
    assert.equal(runtime.values.image, 'root:1');
    assert.equal(runtime.files[1].ignored, true);
    assert.ok(runtime.problems.length >= 1);
  });
});
