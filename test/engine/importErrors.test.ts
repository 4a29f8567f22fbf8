/**
 * A DAG file that does not load, given to `run`, `test-dag` and `render`: the user's DAG failed (exit 1, as the
 * contract says, never 2), said once as `path:line:col: error: message` (the form `parse` prints) with the
 * traceback once, on both engines and Airflow 2 and 3.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cli, dockerProblem, image, needs, scratchWorkspace, venvPython, venvProblem, VERSIONS } from './support';

const BROKEN = 'from airflow import DAG\nimport pandas_that_is_not_here\n';

const VERBS: Array<{ verb: string; args: string[] }> = [
  { verb: 'run', args: ['run', 'dags/broken.py', 'broken', 'first'] },
  { verb: 'test-dag', args: ['test-dag', 'dags/broken.py', 'broken'] },
  { verb: 'render', args: ['render', 'dags/broken.py', 'broken', 'first'] },
];

describe('a DAG file with an import error, run in its runtime', { ...needs(dockerProblem(), venvProblem()), timeout: 600_000 }, () => {
  for (const version of VERSIONS) {
    const ws = () => scratchWorkspace('importerror', {
      'dags/airflow-runtime.yaml': `image: ${image(version)}\npull: never\nlocal:\n  python: ${venvPython(version)}\n`,
      'dags/broken.py': BROKEN,
    });
    for (const engine of ['local', 'docker'] as const) {
      for (const { verb, args } of VERBS) {
        it(`${verb} exits 1 with the error at its line, once, on ${engine} (Airflow ${version})`, async () => {
          const { code, stdout, stderr } = await cli([...args, '--engine', engine], { cwd: ws() });
          const all = stdout + stderr;
          assert.equal(code, 1, all);
          const located = all.match(/^.*broken\.py:\d+:\d+: error: .*$/gm) ?? [];
          assert.deepEqual(located, ["dags/broken.py:2:1: error: ModuleNotFoundError: No module named 'pandas_that_is_not_here'"], all);
          assert.equal(all.match(/Traceback \(most recent call last\)/g)?.length, 1, `the traceback, once:\n${all}`);
          assert.doesNotMatch(all, /^airflow-runtime: /m, 'not told as a failure of ours');
        });
      }
    }
  }
});
