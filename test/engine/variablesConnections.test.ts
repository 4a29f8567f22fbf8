/**
 * Variables and Connections of a runtime file, through the built CLI on both engines and Airflow 2 and 3: a task
 * that asserts `Variable.get(...)` and `BaseHook.get_connection(...)` passes (run and test-dag), a DAG file's
 * top-level `Variable.get` sees them at parse time, and no secret value appears in anything the CLI prints, though
 * the task and the DAG file print them on purpose.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cli, dockerProblem, image, needs, scratchWorkspace, venvPython, venvProblem, VERSIONS } from './support';

const MARK = `${process.pid}x${Date.now() % 100000}`;
const SECRETS = {
  apiKey: `api-key-${MARK}`,
  uriPassword: `pa55/w:rd@${MARK}`,
  fieldPassword: `field-pa55-${MARK}`,
  extraSecret: `extra-s3cret-${MARK}`,
};

const RUNTIME = (version: string) => [
  `image: ${image(version)}`,
  'pull: never',
  'local:',
  `  python: ${venvPython(version)}`,
  'env:',
  '  AIRFLOW_VAR_REGION: from-env-loses',
  'variables:',
  '  region: emea',
  '  feed_config: {batch: 500, regions: [emea, apac]}',
  `  partner_api_key: ${SECRETS.apiKey}`,
  'connections:',
  `  warehouse: "postgres://etl:${encodeURIComponent(SECRETS.uriPassword)}@db.example.com:5432/warehouse"`,
  '  partner_api:',
  '    conn_type: http',
  '    host: api.partner.example',
  '    login: me',
  `    password: ${SECRETS.fieldPassword}`,
  '    port: 443',
  `    extra: {client_secret: ${SECRETS.extraSecret}, timeout: 30}`,
  '',
].join('\n');

const DAG = [
  'from datetime import datetime',
  'from airflow import DAG',
  'try:',
  '    from airflow.sdk import BaseHook, Variable',
  '    from airflow.providers.standard.operators.python import PythonOperator',
  'except ImportError:',
  '    from airflow.hooks.base import BaseHook',
  '    from airflow.models import Variable',
  '    from airflow.operators.python import PythonOperator',
  '',
  '# top-level code that needs a Variable, secrets printed on purpose',
  'REGION = Variable.get("region")',
  'print("PARSE SEES", REGION, Variable.get("partner_api_key"))',
  '',
  'def check():',
  '    assert Variable.get("region") == "emea", Variable.get("region")',
  '    assert Variable.get("feed_config", deserialize_json=True) == {"batch": 500, "regions": ["emea", "apac"]}',
  `    assert Variable.get("partner_api_key") == ${JSON.stringify(SECRETS.apiKey)}`,
  '    warehouse = BaseHook.get_connection("warehouse")',
  '    assert (warehouse.conn_type, warehouse.host, warehouse.login, warehouse.port, warehouse.schema) == ("postgres", "db.example.com", "etl", 5432, "warehouse"), warehouse',
  `    assert warehouse.password == ${JSON.stringify(SECRETS.uriPassword)}`,
  '    api = BaseHook.get_connection("partner_api")',
  '    assert (api.conn_type, api.host, api.login, api.port) == ("http", "api.partner.example", "me", 443)',
  `    assert api.password == ${JSON.stringify(SECRETS.fieldPassword)}`,
  `    assert api.extra_dejson == {"client_secret": ${JSON.stringify(SECRETS.extraSecret)}, "timeout": 30}, api.extra_dejson`,
  '    print("SECRETS ON PURPOSE", Variable.get("partner_api_key"), warehouse.password, warehouse.get_uri(), api.password, api.extra)',
  '    print("CHECKED ALL", REGION)',
  '',
  'with DAG(dag_id=f"vc_{REGION}", schedule=None, start_date=datetime(2024, 1, 1)):',
  '    PythonOperator(task_id="check", python_callable=check)',
  '',
].join('\n');

function assertNoSecret(output: string): void {
  for (const [name, secret] of Object.entries(SECRETS)) {
    for (const form of new Set([secret, encodeURIComponent(secret)])) assert.ok(!output.includes(form), `${name} (${form}) was printed:\n${output}`);
  }
  assert.ok(!output.includes(MARK), `a secret's marker was printed:\n${output}`);
}

for (const version of VERSIONS) {
  describe(`variables and connections, Airflow ${version}`, { ...needs(dockerProblem(), venvProblem()), timeout: 900_000 }, () => {
    const ws = scratchWorkspace('vars-conns', { 'dags/airflow-runtime.yaml': RUNTIME(version), 'dags/vc.py': DAG });

    it('resolve shows names and *** for the secrets', async () => {
      const { code, stdout, stderr } = await cli(['resolve', 'dags/vc.py'], { cwd: ws });
      assert.equal(code, 0, stdout + stderr);
      assert.match(stdout, /partner_api_key: "\*\*\*"/);
      assert.match(stdout, /warehouse: postgres:\/\/etl:\*\*\*@db\.example\.com:5432\/warehouse/);
      assertNoSecret(stdout + stderr);
    });

    for (const engine of ['docker', 'local']) {
      it(`${engine}: a DAG file's top-level Variable.get sees them at parse time`, async () => {
        const { code, stdout, stderr } = await cli(['parse', 'dags/vc.py', '--engine', engine, '--format', 'json', '--cold'], { cwd: ws });
        assert.equal(code, 0, stdout + stderr);
        const [result] = JSON.parse(stdout) as { dags: { dagId: string }[] }[];
        assert.deepEqual(result.dags.map((d) => d.dagId), ['vc_emea']);
        assertNoSecret(stdout + stderr);
      });

      it(`${engine}: run: the task gets every Variable and Connection, and no secret is printed`, async () => {
        const { code, stdout, stderr } = await cli(['run', 'dags/vc.py', 'vc_emea', 'check', '--engine', engine], { cwd: ws });
        assert.equal(code, 0, stdout + stderr);
        assert.match(stdout + stderr, /CHECKED ALL emea/);
        assert.match(stdout + stderr, /SECRETS ON PURPOSE \*\*\*/);
        assertNoSecret(stdout + stderr);
      });

      it(`${engine}: test-dag: the same, in a whole-DAG run`, async () => {
        const { code, stdout, stderr } = await cli(['test-dag', 'dags/vc.py', 'vc_emea', '--engine', engine], { cwd: ws });
        assert.equal(code, 0, stdout + stderr);
        assert.match(stdout + stderr, /CHECKED ALL emea/);
        assertNoSecret(stdout + stderr);
      });
    }
  });
}
