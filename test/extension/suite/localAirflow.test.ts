// Airflow: Start Local Airflow / Stop Local Airflow from the command palette, on a project of one Airflow 3 runtime
// (the 3.3.2 test image) in a folder of its own: the UI answers, the status bar says so, a DAG processor's import
// error is in Problems at its line, and Stop leaves no container or network of the deployment.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { deploymentId } from '../../../src/core/deploy/plan';
import { eventually, extensionApi } from './workspace';

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).split('\n').filter(Boolean);

suite('local Airflow', () => {
  test('starts and stops from the command palette, with the DAG processors\' import errors in Problems', async function () {
    this.timeout(20 * 60_000);
    const api = await extensionApi();
    const project = fs.mkdtempSync(path.join(os.tmpdir(), 'airflow-runtime-local-airflow-'));
    const id = deploymentId(project);
    const broken = path.join(project, 'dags', 'broken.py');
    try {
      fs.mkdirSync(path.join(project, '.vscode'));   // the project root's marker
      fs.mkdirSync(path.join(project, 'dags'));
      fs.writeFileSync(path.join(project, 'dags', 'airflow-runtime.yaml'), 'image: airflow-runtime-test/airflow:3.3.2\npull: never\n');
      fs.writeFileSync(path.join(project, 'dags', 'hello.py'), 'from airflow.sdk import dag, task\n\n\n@dag(dag_id="hello", schedule=None)\ndef hello():\n    @task\n    def hi():\n        return 1\n\n    hi()\n\n\nhello()\n');
      fs.writeFileSync(broken, '"""A DAG file that cannot be imported."""\nfrom airflow.sdk import dag\nimport not_installed_anywhere  # noqa\n');

      const url = await vscode.commands.executeCommand<string | undefined>('airflowRuntime.startLocalAirflow', vscode.Uri.file(project));
      assert.match(url ?? '', /^http:\/\/127\.0\.0\.1:\d+$/, 'the command answers with the UI\'s URL');
      assert.equal(api.localAirflow.url(), url);
      assert.match(api.localAirflow.statusText() ?? '', /Airflow: local 127\.0\.0\.1:\d+/);
      const health = await (await fetch(`${url}/api/v2/monitor/health`)).json() as { metadatabase: { status: string } };
      assert.equal(health.metadatabase.status, 'healthy');

      const problems = await eventually(() => vscode.languages.getDiagnostics(vscode.Uri.file(broken)).filter((d) => d.source === 'airflow-runtime (local Airflow)'),
        (list) => list.length > 0, 'the DAG processor\'s import error in Problems', 5 * 60_000);
      assert.equal(problems[0].range.start.line, 2, 'at the import\'s line');
      assert.match(problems[0].message, /No module named 'not_installed_anywhere'/);
      assert.ok(docker('ps', '-q', '--filter', `label=airflow-runtime.deployment=${id}`).length >= 5, 'the components run');

      await vscode.commands.executeCommand('airflowRuntime.stopLocalAirflow');
      assert.equal(api.localAirflow.url(), undefined);
      assert.equal(api.localAirflow.statusText(), undefined);
      assert.deepEqual(vscode.languages.getDiagnostics(vscode.Uri.file(broken)).filter((d) => d.source === 'airflow-runtime (local Airflow)'), []);
      assert.deepEqual(docker('ps', '-aq', '--filter', `label=airflow-runtime.deployment=${id}`), []);
      assert.deepEqual(docker('network', 'ls', '-q', '--filter', `label=airflow-runtime.deployment=${id}`), []);
    } finally {
      const left = docker('ps', '-aq', '--filter', `label=airflow-runtime.deployment=${id}`);
      if (left.length) docker('rm', '-f', ...left);
      for (const network of docker('network', 'ls', '-q', '--filter', `label=airflow-runtime.deployment=${id}`)) docker('network', 'rm', network);
      const volumes = docker('volume', 'ls', '-q', '--filter', `label=airflow-runtime.deployment=${id}`);
      if (volumes.length) docker('volume', 'rm', '-f', ...volumes);
      fs.rmSync(project, { recursive: true, force: true });
    }
  });
});
