/**
 * A project without .git or .vscode (a zip download, a CI artifact) parses the same from every folder inside it,
 * and "outside the workspace" is measured from the project, never from the current folder (issues 22.2, 21.5).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { cli, comparable, needs, venvProblem, venvPython } from './support';

function folder(root: string, files: Record<string, string>): string {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), text);
  }
  return root;
}

const runtime = `local:\n  python: ${venvPython('2.11.2')}\n`;
const dag = (id: string, extra = '') => `from datetime import datetime\nfrom airflow import DAG\nfrom airflow.operators.empty import EmptyOperator\n${extra}\nwith DAG("${id}", start_date=datetime(2024, 1, 1), schedule=None):\n    EmptyOperator(task_id="t")\n`;

describe('the project root is found from the files', { ...needs(venvProblem()), timeout: 300_000 }, () => {
  it('a downloaded project parses the same from its root, dags/ and a subfolder of dags/', async () => {
    const parent = mkdtempSync(path.join(os.tmpdir(), 'airflow-runtime-download-'));
    const root = folder(path.join(parent, 'project'), {
      'dags/airflow-runtime.yaml': runtime,
      'dags/etl.py': dag('etl', 'from include.helpers import GREETING'),
      'dags/other/report.py': dag('report'),
      'dags/other/airflow-runtime.yaml': 'env:\n  TEAM: other\n',
      'include/__init__.py': '', 'include/helpers.py': 'GREETING = "hi"\n', 'plugins/.keep': '',
      // an Astro project as a zip download has it: no .git, no .vscode, no .astro/ (it is git-ignored)
      Dockerfile: 'FROM quay.io/astronomer/astro-runtime:12.1.0\n',
    });
    const runs = [];
    for (const [cwd, target] of [[root, 'dags'], [path.join(root, 'dags'), '.'], [path.join(root, 'dags', 'other'), '..'], [parent, 'project/dags']]) {
      const { code, stdout, stderr } = await cli(['parse', target, '--engine', 'local', '--format', 'json'], { cwd });
      // Airflow's own serialized DAG keeps the runtime's temp AIRFLOW_HOME (`_processor_dags_folder`): left out
      const results = comparable(JSON.parse(stdout || '[]')).map((r) => ({ ...r, dags: (r.dags as Record<string, unknown>[]).map(({ serialized: _, ...dag }) => dag) }));
      runs.push({ cwd, code, results, stderr });
    }
    for (const run of runs) {
      assert.equal(run.code, 0, `from ${run.cwd}: exit ${run.code}\n${run.stderr}`);
      assert.deepEqual(run.results, runs[0].results, `from ${run.cwd} the result differs from the root's`);
    }
    assert.deepEqual((runs[0].results as { dags: { dagId: string }[] }[]).flatMap((r) => r.dags.map((d) => d.dagId)).sort(), ['etl', 'report']);
  });

  it('a mount that leaves the project is refused from a parent folder too', async () => {
    const parent = mkdtempSync(path.join(os.tmpdir(), 'airflow-runtime-download-'));
    folder(parent, { 'secrets/id_rsa': 'PRIVATE KEY\n' });
    folder(path.join(parent, 'project'), {
      'dags/airflow-runtime.yaml': `${runtime}mounts:\n  - source: ../../secrets\n    target: /opt/secrets\n`,
      'dags/etl.py': dag('etl'), 'include/.keep': '',
    });
    for (const cwd of [parent, path.join(parent, 'project')]) {
      const { code, stdout } = await cli(['parse', path.join(parent, 'project', 'dags'), '--engine', 'local'], { cwd });
      assert.equal(code, 2, `from ${cwd}: ${stdout}`);
      assert.match(stdout, /airflow-runtime\.yaml:4:13: error: mount source "\.\.\/\.\.\/secrets" is outside the workspace/, `from ${cwd}`);
    }
  });
});
