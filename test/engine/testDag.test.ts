/**
 * `test-dag` through the built CLI: the whole DAG as dag.test() runs it, in its runtime, on both engines and
 * Airflow 2 and 3. A passing DAG exits 0 with every task's log and state; a failing one exits 1 and names the
 * failed task; the conf reaches the tasks; Ctrl-C leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { CLI, cli, dockerProblem, image, needs, ourContainers, REPO, scratchWorkspace, venvPython, venvProblem, VERSIONS } from './support';

const PASSING = [
  'from datetime import datetime',
  'from airflow.decorators import dag, task',
  '',
  '@dag(schedule=None, start_date=datetime(2024, 1, 1))',
  'def whole():',
  '    @task',
  '    def extract():',
  '        from airflow.operators.python import get_current_context',
  '        region = get_current_context()["dag_run"].conf.get("region", "none")',
  '        print("EXTRACTED", region)',
  '        return [1, 2, 3]',
  '',
  '    @task',
  '    def double(n):',
  '        return n * 2',
  '',
  '    @task',
  '    def load(values):',
  '        print("LOADED", sorted(values))',
  '',
  '    load(double.expand(n=extract()))',
  '',
  'whole()',
  '',
].join('\n');

/** first passes, explode raises, never does not run (shared with the extension suite). */
const FAILING = readFileSync(path.join(REPO, 'test/fixtures/dags/broken.py'), 'utf8');

const SLEEP_MARKER = `600.${process.pid}`;
const HANGING = [
  'from datetime import datetime',
  'from airflow import DAG',
  'from airflow.operators.bash import BashOperator',
  '',
  'with DAG(dag_id="hanging", schedule=None, start_date=datetime(2024, 1, 1)):',
  `    BashOperator(task_id="wait", bash_command="echo waiting-started; sleep ${SLEEP_MARKER}")`,
  '',
].join('\n');

for (const version of VERSIONS) {
  describe(`test-dag, Airflow ${version}`, { ...needs(dockerProblem(), venvProblem()), timeout: 600_000 }, () => {
    const ws = scratchWorkspace('test-dag', {
      'dags/airflow-runtime.yaml': `image: ${image(version)}\npull: never\nlocal:\n  python: ${venvPython(version)}\n`,
      'dags/whole.py': PASSING, 'dags/broken.py': FAILING, 'dags/hanging.py': HANGING,
    });
    for (const engine of ['docker', 'local']) {
      it(`${engine}: a passing DAG runs every task in order with the conf, exit 0`, async () => {
        const { code, stdout, stderr } = await cli(['test-dag', 'dags/whole.py', 'whole', '--conf', '{"region": "emea"}', '--engine', engine], { cwd: ws });
        assert.equal(code, 0, stdout + stderr);
        assert.match(stdout + stderr, /EXTRACTED emea/);
        assert.match(stdout + stderr, /LOADED \[2, 4, 6\]/);
        assert.match(stderr, /^whole\.extract: running$/m);
        assert.match(stderr, /^whole\.double\[2\]: success in [\d.]+s$/m);
        assert.match(stderr, /^whole: success in [\d.]+s \(5 success\)$/m);
      });

      it(`${engine}: a failing DAG exits 1 and names the failed task; what follows it does not run`, async () => {
        const { code, stdout, stderr } = await cli(['test-dag', 'dags/broken.py', 'broken', '--engine', engine], { cwd: ws });
        assert.equal(code, 1, stdout + stderr);
        assert.match(stdout + stderr, /FIRST RAN/);
        assert.match(stdout + stderr, /ValueError: the feed is empty/);
        assert.doesNotMatch(stdout + stderr, /NEVER RAN/);
        assert.match(stderr, /^broken: failed in [\d.]+s \(.*\); failed: explode \(failed\), never \(upstream failed\)$/m);
      });

      it(`${engine}: Ctrl-C stops the run, exit 2, and nothing of it is left`, async () => {
        const env: NodeJS.ProcessEnv = { ...process.env };
        delete env.DOCKER_HOST;
        const child = spawn(process.execPath, [CLI, 'test-dag', 'dags/hanging.py', 'hanging', '--engine', engine], { cwd: ws, env });
        let output = '';
        const started = new Promise<void>((resolve) => {
          const look = (chunk: Buffer) => { output += chunk; if (output.includes('waiting-started')) resolve(); };
          child.stdout.on('data', look);
          child.stderr.on('data', look);
        });
        const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
        await started;
        child.kill('SIGINT');
        assert.equal(await exited, 2, output);
        assert.deepEqual(ourContainers(path.join(ws, 'dags', 'hanging.py')), []);
        const { execFileSync } = await import('node:child_process');
        const left = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((line) => line.includes(path.join(ws, 'dags', 'hanging.py')) || line.includes(SLEEP_MARKER));
        assert.deepEqual(left, []);
      });
    }
  });
}
