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
    console.log(`      activate() took ${api.activationMs.toFixed(1)} ms (no Docker call, no workspace search)`);
    const rows = Object.fromEntries(api.tree.snapshot().map((row) => [path.basename(row.file), row]));
    assert.deepEqual(Object.keys(rows).sort(), ['customer_metrics.py', 'inventory_sync.py', 'orders_etl.py', 'regional_reports.py']);
    const images = Object.fromEntries(Object.entries(rows).map(([name, row]) => [name, [row.image, row.description.split(' · ')[0]]]));
    assert.deepEqual(images, {
      // the whole reference: `airflow:2.11.2` alone would not say whose image it is
      'customer_metrics.py': ['airflow-runtime-test/airflow:2.11.2', 'airflow-runtime-test/airflow:2.11.2'],
      'inventory_sync.py': ['airflow-runtime-test/airflow:3.3.2', 'airflow-runtime-test/airflow:3.3.2'],
      'orders_etl.py': ['airflow-runtime-test/airflow:2.11.2', 'airflow-runtime-test/airflow:2.11.2'],
      'regional_reports.py': ['airflow-runtime-test/airflow:3.3.2', 'airflow-runtime-test/airflow:3.3.2'],
    });
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
    // the DAG groups its tasks and its whole run; only the whole run has the DAG's line (a group's icon would be its tasks')
    assert.equal(dagItem.range, undefined);
    const tasks: Record<string, number | undefined> = {};
    dagItem.children.forEach((item) => { tasks[item.label] = item.range?.start.line; });
    assert.deepEqual(tasks, {
      'orders_etl (whole DAG)': lineOf(file, 'with DAG(') - 1,
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

suite('import errors in helper modules, and files that go away', () => {
  test('an error in a helper module is shown in the helper, at the DAG file\'s import, and cleared when the file is deleted', async () => {
    const api = await extensionApi();
    // The DAG folder is on sys.path, as in Airflow: helpers live at its top.
    const helper = workspaceFile('dags', 'broken_helpers.py');
    const dagFile = workspaceFile('dags', 'team_a', 'uses_helpers.py');
    fs.writeFileSync(helper, '"""Helpers for uses_helpers.py."""\nimport json\nimport not_installed_anywhere\n');
    fs.writeFileSync(dagFile, [
      'from datetime import datetime',
      'from airflow import DAG',
      'from airflow.operators.empty import EmptyOperator',
      'from broken_helpers import json',
      '',
      'with DAG(dag_id="uses_helpers", schedule=None, start_date=datetime(2024, 1, 1)):',
      '    EmptyOperator(task_id="noop")',
      '',
    ].join('\n'));
    try {
      await api.project.reconsider(dagFile);
      const outcome = await vscode.commands.executeCommand<{ state: string }>('airflowRuntime.parseFile', vscode.Uri.file(dagFile));
      assert.equal(outcome?.state, 'import-error', JSON.stringify(outcome));
      const [inHelper] = await eventually(() => ourDiagnostics(helper), (d) => d.length > 0, 'diagnostics of the helper');
      assert.equal(inHelper.range.start.line, 2);
      assert.match(inHelper.message, /not_installed_anywhere/);
      const [atImport] = await eventually(() => ourDiagnostics(dagFile), (d) => d.length > 0, 'diagnostics of the DAG file');
      assert.equal(atImport.range.start.line, 3, 'at `from broken_helpers import json`');
    } finally {
      // Deleted as a person does in the explorer (the file watcher alone can be late on a busy machine).
      const edit = new vscode.WorkspaceEdit();
      edit.deleteFile(vscode.Uri.file(dagFile), { ignoreIfNotExists: true });
      edit.deleteFile(vscode.Uri.file(helper), { ignoreIfNotExists: true });
      await vscode.workspace.applyEdit(edit);
    }
    await eventually(() => [...ourDiagnostics(helper), ...ourDiagnostics(dagFile)], (d) => d.length === 0, 'diagnostics after the files were deleted');
    await eventually(() => api.tree.snapshot().map((row) => row.file), (files) => !files.includes(dagFile), 'the deleted file in the tree');
  });
});

suite('engine problems', () => {
  test('an unreachable Docker engine is drawn in the tree with fix-it actions, and the file says why it is not parsed', async () => {
    const api = await extensionApi();
    const config = vscode.workspace.getConfiguration('airflowRuntime');
    // user settings: a workspace cannot choose the engine or its endpoint
    await config.update('engine', 'docker', vscode.ConfigurationTarget.Global);
    await config.update('docker.endpoint', 'unix:///nonexistent/docker.sock', vscode.ConfigurationTarget.Global);
    try {
      await eventually(() => api.project.session.status.state, (state) => state === 'idle', 'the engine reset after the settings changed');
      const file = ORDERS();
      const outcome = await vscode.commands.executeCommand<{ state: string; failure?: { code: string; message: string } }>('airflowRuntime.parseFile', vscode.Uri.file(file));
      assert.equal(outcome?.state, 'failed', JSON.stringify(outcome));
      assert.equal(outcome?.failure?.code, 'engine-unreachable');
      const roots = api.tree.getChildren();
      const notice = roots.find((node) => node.kind === 'notice' && node.id === 'notice/engine');
      assert.ok(notice, `no engine notice among ${JSON.stringify(roots.map((r) => r.id))}`);
      assert.match(String(api.tree.getTreeItem(notice).label), /nonexistent\/docker\.sock/);
      const actions = api.tree.getChildren(notice).map((node) => String(api.tree.getTreeItem(node).label));
      assert.deepEqual(actions, ['Retry', 'Use the local runtime emulator', 'Open settings']);
    } finally {
      await config.update('engine', undefined, vscode.ConfigurationTarget.Global);
      await config.update('docker.endpoint', undefined, vscode.ConfigurationTarget.Global);
      await vscode.commands.executeCommand('airflowRuntime.retryEngine');
    }
    const again = await vscode.commands.executeCommand<{ state: string }>('airflowRuntime.parseFile', vscode.Uri.file(ORDERS()));
    assert.equal(again?.state, 'parsed', 'parsing works again once the settings are back');
  });

  test('"Use the local runtime emulator" sets the user setting, says so, and parses the files again there', async () => {
    const api = await extensionApi();
    const config = () => vscode.workspace.getConfiguration('airflowRuntime');
    const workspaceSettings = workspaceFile('.vscode', 'settings.json');
    const settingsBefore = fs.existsSync(workspaceSettings) ? fs.readFileSync(workspaceSettings, 'utf8') : undefined;
    const parsed = await vscode.commands.executeCommand<{ state: string }>('airflowRuntime.parseFile', vscode.Uri.file(ORDERS()));
    assert.equal(parsed?.state, 'parsed', JSON.stringify(parsed));
    const asked = Date.now();
    try {
      const done = await vscode.commands.executeCommand<{ message: string; parsing: string[] }>('airflowRuntime.useLocalEngine');
      // the person's choice: their user settings, not the repository's .vscode/settings.json
      assert.equal(config().inspect('engine')?.globalValue, 'local');
      assert.equal(config().inspect('engine')?.workspaceValue, undefined);
      assert.equal(fs.existsSync(workspaceSettings) ? fs.readFileSync(workspaceSettings, 'utf8') : undefined, settingsBefore, '.vscode/settings.json untouched');
      assert.match(done.message, /local runtime emulator: your user setting airflowRuntime\.engine is "local"/);
      assert.match(done.message, /Parsing \d+ DAG files? again there/);
      assert.ok(done.parsing.includes(ORDERS()), JSON.stringify(done.parsing));
      await eventually(() => api.project.parser.states.get(ORDERS())?.startedAt ?? 0, (startedAt) => startedAt >= asked, 'orders_etl.py parsed again');
    } finally {
      api.project.parser.cancelAll();
      await config().update('engine', undefined, vscode.ConfigurationTarget.Global);
      if (settingsBefore === undefined) fs.rmSync(workspaceSettings, { force: true });
      else fs.writeFileSync(workspaceSettings, settingsBefore);
      await eventually(() => config().inspect('engine')?.workspaceValue, (value) => value === undefined, 'the workspace settings as they were');
      await vscode.commands.executeCommand('airflowRuntime.retryEngine');
    }
    const again = await vscode.commands.executeCommand<{ state: string }>('airflowRuntime.parseFile', vscode.Uri.file(ORDERS()));
    assert.equal(again?.state, 'parsed', 'parsing works again once the setting is back');
  });

  test('the engine is the real one CI asked for', async () => {
    const api = await extensionApi();
    await vscode.commands.executeCommand('airflowRuntime.parseFile', vscode.Uri.file(ORDERS()));
    const status = api.project.session.status;
    if (status.state !== 'ready') return assert.fail(`the engine is ${JSON.stringify(status)}`);
    console.log(`      engine: ${status.reason}`);
    if (status.kind !== 'docker') console.warn('      WARNING: Docker is not reachable here, so the extension ran against the local runtime emulator');
    if (process.env.AIRFLOW_RUNTIME_REQUIRE_REAL) assert.equal(status.kind, 'docker', 'CI runs the extension against Docker');
  });
});

suite('runtime file changes', () => {
  test('a new runtime file beside a DAG file marks its old result stale, and it is parsed again in the new runtime', async () => {
    const api = await extensionApi();
    const dagFile = workspaceFile('dags', 'team_a', 'needs_env.py');
    const runtimeFile = workspaceFile('dags', 'team_a', 'needs_env.airflow-runtime.yaml');
    fs.writeFileSync(dagFile, [
      'import os',
      'from datetime import datetime',
      'from airflow import DAG',
      'from airflow.operators.empty import EmptyOperator',
      '',
      'REGION = os.environ["REPORT_REGION"]',
      '',
      'with DAG(dag_id=f"needs_env_{REGION}", schedule=None, start_date=datetime(2024, 1, 1)):',
      '    EmptyOperator(task_id="noop")',
      '',
    ].join('\n'));
    try {
      await api.project.reconsider(dagFile);
      const before = await vscode.commands.executeCommand<{ state: string }>('airflowRuntime.parseFile', vscode.Uri.file(dagFile));
      assert.equal(before?.state, 'import-error', JSON.stringify(before));
      assert.equal(ourDiagnostics(dagFile)[0]?.range.start.line, 5);
      const states: string[] = [];
      const watching = api.project.parser.states.onDidChange((files) => { if (files.includes(dagFile)) states.push(api.tree.snapshot().find((row) => row.file === dagFile)?.state ?? 'gone'); });
      fs.writeFileSync(runtimeFile, 'env:\n  REPORT_REGION: emea\n');
      // the runtime changed under a parsed file: its old result is stale, and it is parsed again by itself
      await eventually(() => api.project.parser.states.get(dagFile)?.result?.dags.map((d) => d.dagId), (ids) => ids?.[0] === 'needs_env_emea', 'parsed again in the new runtime', 120_000);
      watching.dispose();
      assert.equal(states[0], 'stale', JSON.stringify(states));
      assert.equal(api.tree.snapshot().find((row) => row.file === dagFile)?.state, 'parsed');
      await eventually(() => ourDiagnostics(dagFile), (d) => d.length === 0, 'diagnostics once the runtime sets the variable');
    } finally {
      fs.rmSync(runtimeFile, { force: true });
      fs.rmSync(dagFile, { force: true });
    }
  });
});
