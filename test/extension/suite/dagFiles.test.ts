// The DAG Files view, parse diagnostics and test items against the examples, in a trusted window, through the
// real engine (Docker when it answers, else the local runtime emulator) and real Airflow 2 and 3.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { eventually, extensionApi, ourDiagnostics, workspaceFile } from './workspace';

const ORDERS = () => workspaceFile('dags', 'team_a', 'orders_etl.py');
const INVENTORY = () => workspaceFile('dags', 'team_b', 'inventory_sync.py');

/** 1-based line of the first line of `file` that contains `text`. */
function lineOf(file: string, text: string): number {
  const index = fs.readFileSync(file, 'utf8').split('\n').findIndex((line) => line.includes(text));
  assert.ok(index >= 0, `${text} not in ${file}`);
  return index + 1;
}

suite('DAG files', () => {
  test('the DAG Files view lists the example DAG files with their images', async () => {
    const api = await extensionApi();
    const rows = Object.fromEntries(api.tree.snapshot().map((row) => [path.basename(row.file), row]));
    assert.deepEqual(Object.keys(rows).sort(), ['customer_metrics.py', 'inventory_sync.py', 'orders_etl.py', 'regional_reports.py']);
    assert.match(rows['orders_etl.py'].description, /^airflow-runtime-test\/airflow:2\.11\.2/);
    assert.match(rows['customer_metrics.py'].description, /^airflow-runtime-test\/airflow:2\.11\.2/);
    assert.match(rows['regional_reports.py'].description, /^airflow-runtime-test\/airflow:3\.3\.2/);
    assert.match(rows['inventory_sync.py'].description, /^airflow-runtime-test\/airflow:3\.3\.2/);
  });

  test('parsing the broken example puts its import error at line 6, and fixing it clears it', async () => {
    const api = await extensionApi();
    const file = INVENTORY();
    const original = fs.readFileSync(file, 'utf8');
    const outcome = await vscode.commands.executeCommand<{ state: string }>('airflowRuntime.parseFile', vscode.Uri.file(file));
    assert.equal(outcome?.state, 'import-error', JSON.stringify(outcome));
    const [problem] = await eventually(() => ourDiagnostics(file), (d) => d.length > 0, 'diagnostics of inventory_sync.py');
    assert.equal(problem.severity, vscode.DiagnosticSeverity.Error);
    assert.equal(problem.range.start.line, 5, 'line 6, 0-based');
    assert.match(problem.message, /No module named 'pandas'/);
    assert.equal(api.tree.snapshot().find((row) => row.file === file)?.state, 'import-error');

    try {
      fs.writeFileSync(file, original.replace('import pandas as pd\n', '').replace(/print\(pd\.DataFrame\(.*\)\)/, 'print("synced")'));
      const fixed = await vscode.commands.executeCommand<{ state: string }>('airflowRuntime.parseFile', vscode.Uri.file(file));
      assert.equal(fixed?.state, 'parsed', JSON.stringify(fixed));
      await eventually(() => ourDiagnostics(file), (d) => d.length === 0, 'diagnostics after the fix');
    } finally {
      fs.writeFileSync(file, original);
    }
  });

  test('test items: each task of orders_etl.py with a range at its line', async () => {
    const api = await extensionApi();
    const file = ORDERS();
    const outcome = await vscode.commands.executeCommand<{ state: string }>('airflowRuntime.parseFile', vscode.Uri.file(file));
    assert.equal(outcome?.state, 'parsed', JSON.stringify(outcome));
    const fileItem = api.testing.controller.items.get(file);
    assert.ok(fileItem, 'no test item for orders_etl.py');
    const dagItem = fileItem.children.get(`${file}::orders_etl`);
    assert.ok(dagItem, 'no test item for the DAG orders_etl');
    assert.equal(dagItem.range?.start.line, lineOf(file, 'with DAG(') - 1);
    const tasks: Record<string, number | undefined> = {};
    dagItem.children.forEach((item) => { tasks[item.label] = item.range?.start.line; });
    assert.deepEqual(tasks, {
      start: lineOf(file, 'task_id="start"') - 1,
      extract: lineOf(file, 'task_id="extract"') - 1,
      transform: lineOf(file, 'task_id="transform"') - 1,
      load: lineOf(file, 'task_id="load"') - 1,
    });
    assert.equal(fileItem.error, undefined);
  });

  test('a file that failed to import shows its error on its test item', async () => {
    const api = await extensionApi();
    const file = INVENTORY();
    await vscode.commands.executeCommand('airflowRuntime.parseFile', vscode.Uri.file(file));
    const error = api.testing.controller.items.get(file)?.error;
    assert.ok(error, 'no error on the test item of inventory_sync.py');
    assert.match(typeof error === 'string' ? error : error.value, /inventory_sync\.py:6: ModuleNotFoundError/);
  });
});
