/**
 * A remote Docker engine: the same dockerd reached over loopback TCP (DOCKER_HOST=tcp://127.0.0.1:2375), which
 * the engine treats as remote: nothing is bind-mounted, the DAG tree, the harness and the runtime's mounts are
 * copied in, and results are copied out. It must give exactly what the local socket gives.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { connectDocker } from '../../src/core/engine/docker/connect';
import { DockerEngine } from '../../src/core/engine/docker/dockerEngine';
import type { ParseResult } from '../../src/core/harness/parseResult';
import { runtimeFor } from '../../src/cli/runtimeFor';
import { cli, comparable, dockerProblem, EXAMPLES, image, needs, ourContainers, REMOTE, remoteProblem, scratchWorkspace } from './support';

const WORKSPACE = path.join(__dirname, 'workspace');
const remote = { DOCKER_HOST: REMOTE };
const timings: string[] = [];
const scratch: string[] = [];

/** A project whose DAG reads a mounted file and a helper module, beside folders that must not be copied. */
function mountWorkspace(): string {
  const ws = scratchWorkspace('remote-mounts', {
    'dags/airflow-runtime.yaml': `image: ${image('2.11.2')}\npull: never\nmounts:\n  - source: ../include\n    target: /opt/airflow/include\n`,
    'dags/mounted.py': [
      'import os',
      'from datetime import datetime',
      'from airflow import DAG',
      'from airflow.operators.empty import EmptyOperator',
      'from lib.names import suffix',
      '',
      'name = open("/opt/airflow/include/name.txt").read().strip()',
      'seen = sorted(n for n in os.listdir(os.path.dirname(__file__)) if n not in ("__pycache__",))',
      'with DAG(f"mounted_{name}_{suffix()}", schedule=None, start_date=datetime(2024, 1, 1)) as dag:',
      '    for n in seen:',
      '        EmptyOperator(task_id="sees_" + n.replace(".", "_"))',
      '',
    ].join('\n'),
    'dags/lib/__init__.py': '',
    'dags/lib/names.py': 'def suffix():\n    return "ok"\n',
    'dags/node_modules/big.js': 'x'.repeat(1024 * 1024),
    'dags/.git/HEAD': 'ref: refs/heads/main\n',
    'dags/env/pyvenv.cfg': 'home = /usr/bin\n',
    'include/name.txt': 'from_mount\n',
  });
  scratch.push(ws);
  return ws;
}

describe('a remote Docker engine (dockerd over loopback TCP)', needs(dockerProblem(), remoteProblem()), () => {
  let socketResults: Record<string, unknown>[] = [];

  it('parses the examples exactly as the local socket does: DAGs, tasks, lines, host paths, errors', async () => {
    const local = await cli(['parse', 'dags', '--engine', 'docker', '--format', 'json', '--cold']);
    const over = await cli(['parse', 'dags', '--engine', 'docker', '--format', 'json', '--cold'], { env: remote });
    timings.push(`examples, cold: socket ${(local.ms / 1000).toFixed(1)} s, tcp ${(over.ms / 1000).toFixed(1)} s`);
    assert.equal(local.code, 1, local.stderr);
    assert.equal(over.code, 1, over.stderr);
    assert.match(over.stderr, /^engine: docker at tcp:\/\/127\.0\.0\.1:\d+ \(DOCKER_HOST\), engine .*, remote: DAG files are copied in$/m);
    socketResults = comparable(JSON.parse(local.stdout));
    const results = JSON.parse(over.stdout) as ParseResult[];
    assert.deepEqual(comparable(results as unknown as Record<string, unknown>[]), socketResults);
    assert.equal(results.length, 4);
    const broken = results.find((r) => r.file.endsWith('inventory_sync.py'))!;
    assert.deepEqual(broken.importErrors.map((e) => [e.file, e.line, e.message]), [
      [path.join(EXAMPLES, 'dags/team_b/inventory_sync.py'), 6, "ModuleNotFoundError: No module named 'pandas'"],
    ]);
    assert.match(results[0].engine!.detail, /via tcp:\/\/127\.0\.0\.1:\d+, copied \d+ files \(/);
  });

  it('warm over TCP gives the same results as warm over the socket', async () => {
    const local = await cli(['parse', 'dags', '--engine', 'docker', '--format', 'json']);
    const over = await cli(['parse', 'dags', '--engine', 'docker', '--format', 'json'], { env: remote });
    timings.push(`examples, warm: socket ${(local.ms / 1000).toFixed(1)} s, tcp ${(over.ms / 1000).toFixed(1)} s`);
    assert.equal(over.code, 1, over.stderr);
    assert.match(over.stderr, /remote: DAG files are copied in, warm/);
    const warmResults = comparable(JSON.parse(over.stdout));
    assert.deepEqual(warmResults, comparable(JSON.parse(local.stdout)));
    // Warm and cold differ only in what Airflow logs at start-up.
    const withoutOutput = (results: Record<string, unknown>[]) => results.map(({ output: _output, ...rest }) => rest);
    assert.deepEqual(withoutOutput(warmResults), withoutOutput(socketResults));
  });

  it('prints problems at host paths', async () => {
    const { code, stdout } = await cli(['parse', 'dags/team_b', '--engine', 'docker'], { env: remote });
    assert.equal(code, 1);
    assert.equal(stdout, "dags/team_b/inventory_sync.py:6:1: error: ModuleNotFoundError: No module named 'pandas'\n");
  });

  it('runs a task: streams its log, with Variables from the runtime env, and exits 0', async () => {
    const { code, stdout, stderr } = await cli(['run', 'dags/tasks.py', 'engine_tasks', 'succeed', '--date', '2024-05-01', '--engine', 'docker'], { cwd: WORKSPACE, env: remote });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /the task ran, variable=hello/);
    assert.match(stderr, /engine_tasks\.succeed: success/);
  });

  it('runs a failing task: exit 1, its traceback at host paths', async () => {
    const { code, stdout } = await cli(['run', 'dags/tasks.py', 'engine_tasks', 'fail', '--engine', 'docker'], { cwd: WORKSPACE, env: remote });
    assert.equal(code, 1);
    assert.match(stdout, new RegExp(`${WORKSPACE.replace(/[/.]/g, '\\$&')}/dags/tasks\\.py", line 16`));
  });

  it('runs an Airflow 3 task of the examples', async () => {
    const { code, stderr } = await cli(['run', 'dags/team_b/regional_reports.py', 'regional_reports', 'list_regions', '--engine', 'docker'], { env: remote });
    assert.equal(code, 0, stderr);
  });

  it('copies the runtime\'s mounts and helper modules, and leaves out dependencies, VCS and virtualenvs', async () => {
    const ws = mountWorkspace();
    const over = await cli(['parse', 'dags/mounted.py', '--engine', 'docker', '--format', 'json', '--cold'], { cwd: ws, env: remote });
    assert.equal(over.code, 0, over.stderr);
    const [result] = JSON.parse(over.stdout) as ParseResult[];
    assert.deepEqual(result.dags.map((d) => [d.dagId, d.file, d.tasks.map((t) => t.taskId).sort()]), [
      ['mounted_from_mount_ok', path.join(ws, 'dags/mounted.py'), ['sees_airflow-runtime_yaml', 'sees_lib', 'sees_mounted_py']],
    ]);
    assert.match(result.engine!.detail, /copied \d+ files \([\d.]+ MB\); skipped .*node_modules/);
    assert.match(result.engine!.detail, /\.git/);
    assert.match(result.engine!.detail, /env/);
    // The local socket binds the folder as it is.
    const local = await cli(['parse', 'dags/mounted.py', '--engine', 'docker', '--format', 'json'], { cwd: ws });
    assert.equal(local.code, 0, local.stderr);
    assert.deepEqual((JSON.parse(local.stdout) as ParseResult[])[0].dags[0].tasks.map((t) => t.taskId).sort(),
      ['sees__git', 'sees_airflow-runtime_yaml', 'sees_env', 'sees_lib', 'sees_mounted_py', 'sees_node_modules']);
  });

  it('refuses a tree over the copy limit, saying what is big and what to do (exit 2)', async () => {
    const ws = mountWorkspace();
    writeFileSync(path.join(ws, 'dags/lib/data.csv'), 'y'.repeat(300 * 1024));
    const { code, stderr } = await cli(['parse', 'dags/mounted.py', '--engine', 'docker'], { cwd: ws, env: { ...remote, AIRFLOW_RUNTIME_COPY_MAX_MB: '0.25' } });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /the DAG tree to copy to the remote Docker engine is too big: \d+ files, 0\.\d+ MB \(at most 20000 files and 0\.25 MB\); biggest: .*\/dags\/lib \(0\.\d+ MB\)/);
    assert.match(stderr, /what to do: keep DAG files in a folder named dags/);
    assert.deepEqual(ourContainers(ws), []);
  });

  it('warm: what changed on the host between two parses is sent before the next (edits, new and deleted files)', async () => {
    const ws = scratchWorkspace('remote-warm', {
      'dags/airflow-runtime.yaml': `image: ${image('2.11.2')}\npull: never\n`,
      'dags/edit.py': 'from datetime import datetime\nfrom airflow import DAG\nfrom lib.value import VALUE\n\nwith DAG(f"edit_{VALUE}", schedule=None, start_date=datetime(2024, 1, 1)) as dag:\n    pass\n',
      'dags/lib/__init__.py': '',
      'dags/lib/value.py': 'VALUE = "one"\n',
    });
    scratch.push(ws);
    const dagFile = path.join(ws, 'dags/edit.py');
    const engine = new DockerEngine(await connectDocker(REMOTE), { warm: true });
    const parse = () => engine.parse({ dagFile, runtime: runtimeFor(dagFile, { cwd: ws, workspace: ws }) });
    try {
      const started = Date.now();
      assert.deepEqual((await parse()).dags.map((d) => d.dagId), ['edit_one']);
      const first = Date.now() - started;
      writeFileSync(path.join(ws, 'dags/lib/value.py'), 'VALUE = "two"\n'); // the same size: the change is in its mtime
      const t1 = Date.now();
      assert.deepEqual((await parse()).dags.map((d) => d.dagId), ['edit_two']);
      timings.push(`warm over tcp: first parse ${(first / 1000).toFixed(1)} s (start included), after an edit ${((Date.now() - t1) / 1000).toFixed(2)} s`);
      rmSync(path.join(ws, 'dags/lib/value.py'));
      writeFileSync(path.join(ws, 'dags/lib/other.py'), 'VALUE = "other"\n');
      writeFileSync(dagFile, 'from datetime import datetime\nfrom airflow import DAG\nfrom lib.other import VALUE\nfrom lib.value import VALUE as OLD\n');
      const gone = await parse();
      assert.deepEqual(gone.importErrors.map((e) => [e.file, e.line, e.message]), [[dagFile, 4, "ModuleNotFoundError: No module named 'lib.value'"]]);
    } finally {
      await engine.dispose();
    }
    assert.deepEqual(ourContainers(ws), []);
  });

  after(() => {
    console.log(`remote timings:\n  ${timings.join('\n  ')}`);
    assert.deepEqual(ourContainers(EXAMPLES, WORKSPACE, ...scratch), [], 'no container of ours is left');
    for (const ws of scratch) rmSync(ws, { recursive: true, force: true });
  });
});
