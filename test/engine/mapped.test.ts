/**
 * Mapped tasks through the built CLI, on both engines and Airflow 2 and 3: one map index runs after the
 * upstream task it is mapped over, every other task and index is left alone; a missing or wrong map index is a
 * usage error that says the indexes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cli, dockerProblem, image, needs, scratchWorkspace, venvPython, venvProblem, VERSIONS } from './support';

const MAPPED_DAG = [
  'from datetime import datetime',
  'from airflow.decorators import dag, task',
  '',
  '@dag(schedule=None, start_date=datetime(2024, 1, 1))',
  'def mapped():',
  '    @task',
  '    def models():',
  '        return ["small", "large"]',
  '',
  '    @task',
  '    def train(model):',
  '        print("TRAINING", model)',
  '',
  '    @task',
  '    def unrelated():',
  '        print("UNRELATED RAN")',
  '',
  '    train.expand(model=models())',
  '    train.override(task_id="literal").expand(model=["a", "b", "c"])',
  '    unrelated()',
  '',
  'mapped()',
  '',
].join('\n');

for (const version of VERSIONS) {
  describe(`mapped tasks, Airflow ${version}`, { ...needs(dockerProblem(), venvProblem()), timeout: 600_000 }, () => {
    const ws = scratchWorkspace('mapped', {
      'dags/airflow-runtime.yaml': `image: ${image(version)}\npull: never\nlocal:\n  python: ${venvPython(version)}\n`,
      'dags/mapped.py': MAPPED_DAG,
    });
    for (const engine of ['docker', 'local']) {
      it(`${engine}: map index 1 runs after the upstream task it is mapped over, and nothing else runs`, async () => {
        const { code, stdout, stderr } = await cli(['run', 'dags/mapped.py', 'mapped', 'train', '--map-index', '1', '--engine', engine], { cwd: ws });
        assert.equal(code, 0, stdout + stderr);
        assert.match(stdout + stderr, /running models first: 'train' is mapped over their output/);
        assert.match(stdout + stderr, /TRAINING large/);
        assert.doesNotMatch(stdout + stderr, /TRAINING small/);
        assert.doesNotMatch(stdout + stderr, /UNRELATED RAN/);
      });

      it(`${engine}: without --map-index, or one it does not have, exit 2 with the indexes`, async () => {
        const none = await cli(['run', 'dags/mapped.py', 'mapped', 'literal', '--engine', engine], { cwd: ws });
        assert.equal(none.code, 2, none.stderr);
        assert.match(none.stderr, /task 'literal' is mapped \(map indexes 0 to 2\): choose one with --map-index N/);
        assert.match(none.stderr, /what to do: run it with --map-index N/);
        const upstream = await cli(['run', 'dags/mapped.py', 'mapped', 'train', '--engine', engine], { cwd: ws });
        assert.equal(upstream.code, 2, upstream.stderr);
        assert.match(upstream.stderr, /its map indexes are known once its upstream tasks have run/);
        const wrong = await cli(['run', 'dags/mapped.py', 'mapped', 'train', '--map-index', '5', '--engine', engine], { cwd: ws });
        assert.equal(wrong.code, 2, wrong.stderr);
        assert.match(wrong.stderr, /task 'train' expanded to 2 task instance\(s\) \(map indexes 0 to 1\); there is no map index 5/);
      });
    }
  });
}
