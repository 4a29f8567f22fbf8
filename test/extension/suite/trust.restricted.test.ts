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

  test('the language-model tools that run DAG code are refused; those that read runtime files answer', async () => {
    const api = await extensionApi();
    const text = async (name: string, input: Record<string, unknown>) => (await vscode.lm.invokeTool(name, { input, toolInvocationToken: undefined })).content
      .map((part) => (part instanceof vscode.LanguageModelTextPart ? part.value : '')).join('');
    for (const [name, input] of [
      ['parse_dag_file', { path: 'dags/team_b/inventory_sync.py' }],
      ['run_task', { dagFile: 'dags/team_a/orders_etl.py', dagId: 'orders_etl', taskId: 'extract' }],
      ['test_dag', { dagFile: 'dags/team_a/orders_etl.py', dagId: 'orders_etl' }],
      ['render_task', { dagFile: 'dags/team_a/orders_etl.py', dagId: 'orders_etl', taskId: 'extract' }],
    ] as const) {
      assert.match(await text(name, input), /refused: .*not trusted/, name);
    }
    assert.match(await text('list_dag_files', {}), /4 DAG files under the project/);
    assert.match(await text('resolve_runtime', { dagFile: 'dags/team_a/orders_etl.py' }), /airflow-runtime-test\/airflow:/);
    assert.equal(api.project.session.status.state, 'idle', 'no engine was even looked for');
  });
});
