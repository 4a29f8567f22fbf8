// Restricted mode: the tree and runtime files work; parse is refused, because it runs the DAG file's code.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { extensionApi, ourDiagnostics, workspaceFile } from './workspace';

suite('restricted mode', () => {
  test('the window is restricted', () => {
    assert.equal(vscode.workspace.isTrusted, false);
  });

  test('the DAG Files view still lists the DAG files with their images', async () => {
    const api = await extensionApi();
    const rows = api.tree.snapshot();
    assert.equal(rows.length, 4, JSON.stringify(rows));
    assert.ok(rows.every((row) => row.image?.startsWith('airflow-runtime-test/airflow:') && row.description.startsWith(row.image)), JSON.stringify(rows));
  });

  test('parse is refused: nothing runs and the file stays unparsed', async () => {
    const api = await extensionApi();
    const file = workspaceFile('dags', 'team_b', 'inventory_sync.py');
    // the refusal comes before anything asynchronous: had a parse been asked for, its state would change first
    const changes: string[][] = [];
    const listener = api.project.parser.states.onDidChange((files) => changes.push(files));
    const outcome = await vscode.commands.executeCommand('airflowRuntime.parseFile', vscode.Uri.file(file));
    listener.dispose();
    assert.equal(outcome, undefined);
    assert.deepEqual(changes, [], 'no parse state changed');
    assert.equal(api.tree.snapshot().find((row) => row.file === file)?.state, 'unparsed');
    assert.equal(api.project.session.status.state, 'idle', 'no engine was even looked for');
    assert.deepEqual(ourDiagnostics(file), []);
  });
});
