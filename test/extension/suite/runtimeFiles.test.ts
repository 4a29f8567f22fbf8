// Editing runtime files with no other extension installed: completion and hover from the schema.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { extensionApi, workspaceFile } from './workspace';

suite('runtime files', () => {
  let file: string;
  let uri: vscode.Uri;

  suiteSetup(async () => {
    await extensionApi();
    file = workspaceFile('dags', 'team_a', 'editing_check.airflow-runtime.yaml');
    fs.writeFileSync(file, 'image: airflow-runtime-test/airflow:2.11.2\n\npull: \n');
    uri = vscode.Uri.file(file);
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    fs.rmSync(file, { force: true });
  });

  test('completion on an empty line offers the schema\'s keys not yet in the file, with their docs', async () => {
    const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', uri, new vscode.Position(1, 0));
    const labels = list.items.map((item) => (typeof item.label === 'string' ? item.label : item.label.label));
    for (const key of ['env', 'timeouts', 'local', 'airflowConfig', 'mounts', 'variables', 'connections']) assert.ok(labels.includes(key), `${key} not offered: ${labels.join(', ')}`);
    assert.ok(!labels.includes('image') && !labels.includes('pull'), 'keys already in the file are offered again');
    const timeouts = list.items.find((item) => item.label === 'timeouts')!;
    const docs = timeouts.documentation instanceof vscode.MarkdownString ? timeouts.documentation.value : String(timeouts.documentation);
    assert.match(docs, /\S/);
  });

  test('completion after `pull: ` offers the allowed values', async () => {
    const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', uri, new vscode.Position(2, 6));
    const labels = list.items.map((item) => (typeof item.label === 'string' ? item.label : item.label.label));
    for (const value of ['always', 'missing', 'never']) assert.ok(labels.includes(value), `${value} not offered: ${labels.join(', ')}`);
  });

  test('hover on a key shows its documentation', async () => {
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, new vscode.Position(0, 2));
    const text = hovers.flatMap((hover) => hover.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(text, /Docker image/);
  });
});
