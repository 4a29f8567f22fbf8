/**
 * `render` through the built CLI: a task's templated fields for a logical date, rendered in its runtime as
 * `airflow tasks render` does, on both engines and Airflow 2 and 3. A date, params and a Variable from the
 * runtime file render; a broken template exits 1 and names its field and template.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cli, dockerProblem, image, needs, scratchWorkspace, venvPython, venvProblem, VERSIONS } from './support';

const TEMPLATED = [
  'from datetime import datetime',
  'from airflow import DAG',
  'from airflow.operators.bash import BashOperator',
  '',
  'with DAG(dag_id="templated", schedule=None, start_date=datetime(2024, 1, 1), params={"region": "emea"}):',
  '    BashOperator(task_id="report", bash_command="echo {{ ds }} {{ params.region }} {{ var.value.bucket }}",',
  '                 env={"DAY": "{{ ds_nodash }}"})',
  '    BashOperator(task_id="broken", bash_command="echo {{ ds }} {{ missing_value }}")',
  '',
].join('\n');

for (const version of VERSIONS) {
  describe(`render, Airflow ${version}`, { ...needs(dockerProblem(), venvProblem()), timeout: 600_000 }, () => {
    const ws = scratchWorkspace('render', {
      'dags/airflow-runtime.yaml': `image: ${image(version)}\npull: never\nlocal:\n  python: ${venvPython(version)}\nenv:\n  AIRFLOW_VAR_BUCKET: s3://reports-dev\n`,
      'dags/templated.py': TEMPLATED,
    });
    for (const engine of ['docker', 'local']) {
      it(`${engine}: a BashOperator's {{ ds }}, params and Variable render for the given date, exit 0`, async () => {
        const { code, stdout, stderr } = await cli(['render', 'dags/templated.py', 'templated', 'report', '--date', '2024-01-31', '--engine', engine], { cwd: ws });
        assert.equal(code, 0, stdout + stderr);
        assert.match(stdout, /^# bash_command \(bash\)\necho 2024-01-31 emea s3:\/\/reports-dev$/m);
        assert.match(stdout, /^# env \(json\)\n\{'DAY': '20240131'\}$/m);

        const json = await cli(['render', 'dags/templated.py', 'templated', 'report', '--date', '2024-01-31', '--json', '--engine', engine], { cwd: ws });
        assert.equal(json.code, 0, json.stdout + json.stderr);
        const { fields, failure } = JSON.parse(json.stdout) as { fields: { name: string; value: string; renderer?: string }[]; failure: unknown };
        assert.equal(failure, null);
        assert.deepEqual(fields.find((f) => f.name === 'bash_command'), { name: 'bash_command', value: 'echo 2024-01-31 emea s3://reports-dev', renderer: 'bash', pythonType: 'str' });
      });

      it(`${engine}: a broken template exits 1 and names the field and the template`, async () => {
        const { code, stdout, stderr } = await cli(['render', 'dags/templated.py', 'templated', 'broken', '--date', '2024-01-31', '--engine', engine], { cwd: ws });
        assert.equal(code, 1, stdout + stderr);
        assert.match(stderr, /^templated\.broken: the template of field 'bash_command' did not render: UndefinedError: 'missing_value' is undefined$/m);
        assert.match(stderr, /^ {2}template: echo \{\{ ds \}\} \{\{ missing_value \}\}$/m);
        assert.doesNotMatch(stdout + stderr, /Traceback/);
        assert.equal(stdout, '');
      });
    }
  });
}
