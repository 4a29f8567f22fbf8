// Show Rendered Template: a task's templated fields for a given date, rendered in its runtime, opened read-only.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { RenderShown } from '../../../src/vscode/renderedTemplates';
import { extensionApi, workspaceFile } from './workspace';

suite('rendered templates', () => {
  test('Show Rendered Template opens the task\'s fields for the given date, read-only and named after the task', async () => {
    await extensionApi();
    const file = workspaceFile('dags', 'team_a', 'orders_etl.py');
    const parsed = await vscode.commands.executeCommand<{ state: string }>('airflowRuntime.parseFile', vscode.Uri.file(file));
    assert.equal(parsed?.state, 'parsed', JSON.stringify(parsed));

    const shown = await vscode.commands.executeCommand<RenderShown>('airflowRuntime.showRenderedTemplate', { file, dagId: 'orders_etl', taskId: 'extract' }, '2024-01-01');
    assert.ok(shown?.uri, JSON.stringify(shown));
    assert.equal(shown.uri.scheme, 'airflow-runtime-rendered'); // a content provider's: read-only in the editor
    assert.equal(shown.uri.path.split('/').pop(), 'orders_etl.py extract (rendered 2024-01-01).md');

    const editor = vscode.window.activeTextEditor;
    assert.equal(editor?.document.uri.toString(), shown.uri.toString());
    const text = editor.document.getText();
    assert.match(text, /^# orders_etl\.extract: rendered templates$/m);
    assert.match(text, /^## bash_command\n\n```bash\necho extracting orders for 2024-01-01\n```$/m);
    assert.match(text, /^## env$/m);
    assert.equal(editor.document.languageId, 'markdown');
    assert.ok(shown.outcome?.fields.some((f) => f.name === 'bash_command' && f.value === 'echo extracting orders for 2024-01-01'));
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  test('a date that is not a day is refused before anything runs', async () => {
    const file = workspaceFile('dags', 'team_a', 'orders_etl.py');
    const shown = await vscode.commands.executeCommand<RenderShown | undefined>('airflowRuntime.showRenderedTemplate', { file, dagId: 'orders_etl', taskId: 'extract' }, '2024-02-30');
    assert.equal(shown, undefined); // the command wrapper showed the error
  });
});
