// Show Rendered Template: a task's templated fields for a given date, rendered in its runtime, opened read-only.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
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

  test('a DAG file that no longer loads says where, instead of an empty document', async () => {
    const api = await extensionApi();
    const file = workspaceFile('dags', 'team_a', 'render_broken.py');
    const dag = [
      'from datetime import datetime',
      'from airflow import DAG',
      'from airflow.operators.bash import BashOperator',
      '',
      'with DAG(dag_id="render_broken", schedule=None, start_date=datetime(2024, 1, 1)):',
      '    BashOperator(task_id="say", bash_command="echo {{ ds }}")',
      '',
    ];
    fs.writeFileSync(file, dag.join('\n'));
    try {
      await api.project.reconsider(file);
      const parsed = await vscode.commands.executeCommand<{ state: string }>('airflowRuntime.parseFile', vscode.Uri.file(file));
      assert.equal(parsed?.state, 'parsed', JSON.stringify(parsed));
      fs.writeFileSync(file, [...dag.slice(0, 3), 'raise RuntimeError("broken on purpose")', ...dag.slice(4)].join('\n'));

      const shown = await vscode.commands.executeCommand<RenderShown>('airflowRuntime.showRenderedTemplate', { file, dagId: 'render_broken', taskId: 'say' }, '2024-01-01');
      assert.equal(shown?.uri, undefined, 'no document for a file that did not load');
      assert.equal(shown?.outcome?.exitCode, 1, JSON.stringify(shown));
      assert.equal(shown?.notLoaded?.file, file, JSON.stringify(shown));
      assert.equal(shown?.notLoaded?.line, 4, JSON.stringify(shown));
      assert.match(shown?.notLoaded?.message ?? '', /broken on purpose/);
    } finally {
      fs.rmSync(file, { force: true });
      await api.project.reconsider(file);
    }
  });
});
