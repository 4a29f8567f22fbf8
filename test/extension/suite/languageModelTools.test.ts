// The language-model tools, invoked as an assistant's agent mode would (vscode.lm.invokeTool; no model needed). In
// a test window VS Code confirms a tool's confirmation itself, as a person who clicks Continue would.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { TOOL_SPECS } from '../../../src/core/assist/tools';
import { eventually, extensionApi, recordTestRuns, workspaceFile } from './workspace';

/** A tool's result as the model reads it: its text parts. */
async function invoke(name: string, input: Record<string, unknown>, token?: vscode.CancellationToken): Promise<string> {
  const result = await vscode.lm.invokeTool(name, { input, toolInvocationToken: undefined }, token);
  return result.content.map((part) => (part instanceof vscode.LanguageModelTextPart ? part.value : '')).join('');
}

suite('language-model tools', () => {
  test('every tool is registered with the schema of its input', async () => {
    await extensionApi();
    for (const spec of TOOL_SPECS) {
      const tool = vscode.lm.tools.find((candidate) => candidate.name === spec.name);
      assert.ok(tool, `${spec.name} is not among ${vscode.lm.tools.map((t) => t.name).join(', ')}`);
      assert.deepEqual(tool.inputSchema, spec.inputSchema, `${spec.name}: package.json and the core disagree on its input`);
    }
  });

  test('parse_dag_file gives a file\'s import error at its line', async () => {
    const text = await invoke('parse_dag_file', { path: 'dags/team_b/inventory_sync.py' });
    assert.match(text, /dags\/team_b\/inventory_sync\.py:6:\d+: error: .*pandas/, text);
  });

  test('a path outside the project is refused', async () => {
    const text = await invoke('parse_dag_file', { path: '../../etc/passwd' });
    assert.match(text, /outside the project/, text);
  });

  test('run_task runs the task as the Testing view does: its item passes, the graph is told', async () => {
    const api = await extensionApi();
    const file = workspaceFile('dags', 'team_a', 'orders_etl.py');
    const recorded = recordTestRuns(api.testing.controller);
    try {
      const text = await invoke('run_task', { dagFile: 'dags/team_a/orders_etl.py', dagId: 'orders_etl', taskId: 'extract' });
      assert.match(text, /^orders_etl\.extract: success/, text);
      assert.match(text, /extracting orders for/, text);
      const item = api.testing.taskItem(file, 'orders_etl', 'extract')!;
      assert.ok(recorded.runs.some((calls) => calls.some(([state, id]) => state === 'passed' && id === item.id)), JSON.stringify(recorded.runs));
      assert.equal(api.project.runStates.of(file, 'orders_etl').get('extract')?.state, 'success');
    } finally {
      recorded.dispose();
    }
  });

  test('test_dag runs the whole DAG as Run DAG does: each task\'s state, in the graph too', async () => {
    const api = await extensionApi();
    const file = workspaceFile('dags', 'team_a', 'customer_metrics.py');
    const text = await invoke('test_dag', { dagFile: 'dags/team_a/customer_metrics.py', dagId: 'customer_metrics' });
    assert.match(text, /^customer_metrics: success/, text);
    const states = api.project.runStates.of(file, 'customer_metrics');
    assert.ok(states.size > 1, `the graph was told of ${states.size} task(s)`);
    for (const [taskId, entry] of states) {
      assert.equal(entry.state, 'success', `${taskId}: ${entry.state}`);
      assert.match(text, new RegExp(`\\b${taskId.replace('.', '\\.')}: success`), text);
    }
  });

  test('cancelling a tool\'s run stops the task: no process of it is left', async () => {
    const api = await extensionApi();
    const file = workspaceFile('dags', 'team_a', 'tool_long_task.py');
    // the sleep's own argument marks this test's processes: other work on the machine runs sleeps too
    const marker = `600.${process.pid}`;
    fs.writeFileSync(file, [
      'from datetime import datetime',
      'from airflow import DAG',
      'from airflow.operators.bash import BashOperator',
      '',
      'with DAG(dag_id="tool_long_task", schedule=None, start_date=datetime(2024, 1, 1)):',
      `    BashOperator(task_id="wait", bash_command="echo waiting; sleep ${marker}")`,
      '',
    ].join('\n'));
    try {
      await api.project.reconsider(file);
      const source = new vscode.CancellationTokenSource();
      const pending = invoke('run_task', { dagFile: 'dags/team_a/tool_long_task.py', dagId: 'tool_long_task', taskId: 'wait' }, source.token);
      await eventually(() => processesNaming(marker).length, (count) => count > 0, 'the task\'s sleep running', 120_000);
      source.cancel();
      // VS Code's own answer to a cancelled tool call
      await assert.rejects(pending, /Canceled/);
      await eventually(() => api.project.runStates.of(file, 'tool_long_task').get('wait')?.state, (state) => state === 'cancelled', 'the task\'s state');
      await eventually(() => processesNaming(marker), (left) => left.length === 0, 'processes of the cancelled task', 30_000);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});

/** The processes on this machine (in our containers or here: both are in /proc) whose command line holds `marker`. */
function processesNaming(marker: string): string[] {
  return fs.readdirSync('/proc').filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
    } catch {
      return false;
    }
  });
}
