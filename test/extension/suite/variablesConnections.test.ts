// Variables and Connections of a runtime file in the editor: a gutter task run gets them (the task asserts them)
// and no secret value reaches its output; the effective runtime shows *** for them; a bad name is a diagnostic at
// its line; completion and hover know the new keys.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { eventually, extensionApi, ourDiagnostics, runTask, workspaceFile } from './workspace';

const MARK = `${process.pid}x${Date.now() % 100000}`;
const API_KEY = `api-key-${MARK}`;
const URI_PASSWORD = `pa55/w:rd@${MARK}`;
const FIELD_PASSWORD = `field-pa55-${MARK}`;

const RUNTIME = [
  'variables:',
  '  region: emea',
  `  partner_api_key: ${API_KEY}`,
  'connections:',
  `  warehouse: "postgres://etl:${encodeURIComponent(URI_PASSWORD)}@db.example.com:5432/warehouse"`,
  '  partner_api:',
  '    conn_type: http',
  '    host: api.partner.example',
  `    password: ${FIELD_PASSWORD}`,
  '    ',
  '',
].join('\n');

const DAG = [
  'from datetime import datetime',
  'from airflow import DAG',
  'from airflow.hooks.base import BaseHook',
  'from airflow.models import Variable',
  'from airflow.operators.python import PythonOperator',
  '',
  'def check():',
  '    assert Variable.get("region") == "emea"',
  `    assert Variable.get("partner_api_key") == ${JSON.stringify(API_KEY)}`,
  '    warehouse = BaseHook.get_connection("warehouse")',
  `    assert (warehouse.host, warehouse.login, warehouse.password) == ("db.example.com", "etl", ${JSON.stringify(URI_PASSWORD)})`,
  `    assert BaseHook.get_connection("partner_api").password == ${JSON.stringify(FIELD_PASSWORD)}`,
  '    print("SECRETS ON PURPOSE", Variable.get("partner_api_key"), warehouse.password, warehouse.get_uri())',
  '    print("CHECKED ALL", Variable.get("region"))',
  '',
  'with DAG(dag_id="vars_conns_check", schedule=None, start_date=datetime(2024, 1, 1)):',
  '    PythonOperator(task_id="check", python_callable=check)',
  '',
].join('\n');

function assertNoSecret(text: string): void {
  for (const secret of [API_KEY, URI_PASSWORD, encodeURIComponent(URI_PASSWORD), FIELD_PASSWORD]) assert.ok(!text.includes(secret), `${secret} shown:\n${text}`);
  assert.ok(!text.includes(MARK), `a secret's marker shown:\n${text}`);
}

suite('variables and connections', () => {
  let dagFile: string;
  let runtimeFile: string;

  suiteSetup(async () => {
    dagFile = workspaceFile('dags', 'team_a', 'vars_conns_check.py');
    runtimeFile = workspaceFile('dags', 'team_a', 'vars_conns_check.airflow-runtime.yaml');
    fs.writeFileSync(runtimeFile, RUNTIME);
    fs.writeFileSync(dagFile, DAG);
    const api = await extensionApi();
    await api.project.reconsider(dagFile);
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    fs.rmSync(dagFile, { force: true });
    fs.rmSync(runtimeFile, { force: true });
  });

  test('a gutter task run gets them, and no secret value appears in its output', async () => {
    const report = await runTask(dagFile, 'vars_conns_check', 'check');
    const log = report.log.join('\n');
    assert.equal(report.outcome, 'passed', log);
    assert.match(log, /CHECKED ALL emea/);
    assert.match(log, /SECRETS ON PURPOSE \*\*\*/);
    assertNoSecret(log);
  });

  test('Show Effective Runtime shows *** for the secrets', async () => {
    await vscode.commands.executeCommand<vscode.Uri>('airflowRuntime.showEffectiveRuntime', vscode.Uri.file(dagFile));
    const text = vscode.window.activeTextEditor?.document.getText() ?? '';
    assert.match(text, /partner_api_key: "\*\*\*"/);
    assert.match(text, /region: emea/);
    assertNoSecret(text);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  test('completion offers the new keys and a connection\'s fields; hover documents them', async () => {
    const uri = vscode.Uri.file(runtimeFile);
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
    const labelsAt = async (position: vscode.Position) => (await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', uri, position))
      .items.map((item) => (typeof item.label === 'string' ? item.label : item.label.label));
    const top = await labelsAt(new vscode.Position(10, 0));
    assert.ok(!top.includes('variables') && !top.includes('connections'), `keys in the file offered again: ${top.join(', ')}`);
    const fields = await labelsAt(new vscode.Position(9, 4));
    for (const field of ['login', 'port', 'schema', 'extra']) assert.ok(fields.includes(field), `${field} not offered: ${fields.join(', ')}`);
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, new vscode.Position(3, 3));
    const text = hovers.flatMap((hover) => hover.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(text, /AIRFLOW_CONN_<CONN_ID>/);
  });

  test('a bad variable key is a diagnostic at its line, and never quotes a connection\'s value', async () => {
    const bad = workspaceFile('dags', 'team_a', 'vars_conns_bad.airflow-runtime.yaml');
    fs.writeFileSync(bad, `variables:\n  ok_key: x\n  "bad key": y\nconnections:\n  broken: "not-a-uri-${MARK}"\n`);
    try {
      await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(vscode.Uri.file(bad)));
      const diagnostics = await eventually(() => ourDiagnostics(bad), (d) => d.length >= 2, 'diagnostics of the bad runtime file');
      const lines = diagnostics.map((d) => `${d.range.start.line + 1}: ${d.message}`).sort();
      assert.match(lines[0], /^3: "bad key" is not a valid name in `variables`: variable keys are letters, digits/);
      assert.match(lines[1], /^5: `connections.broken` must be a connection URI/);
      assertNoSecret(lines.join('\n'));
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      fs.rmSync(bad, { force: true });
    }
  });
});
