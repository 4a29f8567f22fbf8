// *Airflow: Check Upgrade to…* in a real extension host, on the real Docker images: the findings in Problems under
// their own source, ruff's fix as a quick fix that changes the file, the report document, and the clear command.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { UpgradeReport } from '../../../src/core/upgrade/check';
import { extensionApi, workspaceFile } from './workspace';

const OLD = `from datetime import datetime

from airflow import DAG
from airflow.operators.dummy import DummyOperator

with DAG("upgrade_old", start_date=datetime(2024, 1, 1), schedule_interval="@daily") as dag:
    DummyOperator(task_id="start")
`;

const upgradeDiagnostics = (file: string) => vscode.languages.getDiagnostics(vscode.Uri.file(file)).filter((d) => d.source === 'airflow upgrade');

suite('checking an upgrade', () => {
  const folder = () => workspaceFile('dags', 'upgrade_check');
  teardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    fs.rmSync(folder(), { recursive: true, force: true });
    await (await extensionApi()).project.scan();
  });

  test("puts what breaks in Problems under its own source, with ruff's fix as a quick fix; Clear empties it", async function () {
    this.timeout(400_000);
    const api = await extensionApi();
    const file = path.join(folder(), 'old.py');
    fs.mkdirSync(folder(), { recursive: true });
    fs.writeFileSync(file, OLD);
    await api.project.reconsider(file);
    assert.ok(api.project.isDagFile(file), 'the new file is a DAG file');

    const report = await vscode.commands.executeCommand<UpgradeReport>('airflowRuntime.checkUpgrade', vscode.Uri.file(folder()), { image: 'airflow-runtime-test/airflow:3.3.2' });
    assert.ok(report, 'the check ran');
    assert.deepEqual(report.files.map((f) => [f.file, f.verdict]), [[file, 'breaks']], JSON.stringify(report.files.map((f) => f.error)));

    const diagnostics = upgradeDiagnostics(file);
    const error = diagnostics.find((d) => d.severity === vscode.DiagnosticSeverity.Error);
    assert.ok(error, JSON.stringify(diagnostics.map((d) => d.message)));
    assert.equal(error.range.start.line, 3, 'at the import, line 4');
    assert.match(error.message, /^ModuleNotFoundError: No module named 'airflow\.operators\.dummy' \(works on 2\.11\.2, fails on 3\.3\.2\)$/);
    const air301 = diagnostics.find((d) => d.message.startsWith('AIR301'));
    assert.ok(air301, JSON.stringify(diagnostics.map((d) => d.message)));
    assert.deepEqual([air301.range.start.line, air301.range.start.character], [5, 57], 'at schedule_interval, line 6');
    assert.equal(air301.severity, vscode.DiagnosticSeverity.Warning);

    const report_ = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'airflow-upgrade');
    assert.ok(report_, 'the report document is open');
    assert.match(report_.getText(), /## dags\/upgrade_check\/old\.py: breaks \(2\.11\.2 → 3\.3\.2\)/);
    assert.match(report_.getText(), /\| tasks \| start \(\w+Operator\) \| \(no DAG\) \|/);

    const document = await vscode.workspace.openTextDocument(file);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', document.uri, air301.range, vscode.CodeActionKind.QuickFix.value);
    const fix = actions.find((a) => a.title.includes('ruff AIR301'));
    assert.ok(fix?.edit, JSON.stringify(actions.map((a) => a.title)));
    assert.ok(await vscode.workspace.applyEdit(fix.edit));
    assert.match(document.lineAt(5).text, /schedule="@daily"\) as dag:$/);
    assert.ok(await document.save());

    await vscode.commands.executeCommand('airflowRuntime.clearUpgradeCheck');
    assert.deepEqual(upgradeDiagnostics(file), []);
  });
});
