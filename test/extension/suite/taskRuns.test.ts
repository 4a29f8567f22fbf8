// Running tasks through the Testing API, in their runtime: a passing task, a failing one.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ParseResult } from '../../../src/core/harness/parseResult';
import type { TaskRunReport } from '../../../src/vscode/testing';
import { drawnState, extensionApi, gutterItemAt, recordTestRuns, runTask, workspaceFile } from './workspace';

/** A DAG file of one BashOperator task, written into the test workspace. */
function writeBashDag(file: string, dagId: string, taskId: string, command: string): void {
  fs.writeFileSync(file, [
    'from datetime import datetime',
    'from airflow import DAG',
    'from airflow.operators.bash import BashOperator',
    '',
    `with DAG(dag_id="${dagId}", schedule=None, start_date=datetime(2024, 1, 1)):`,
    `    BashOperator(task_id="${taskId}", bash_command="${command}")`,
    '',
  ].join('\n'));
}

suite('task runs', () => {
  test('a task that succeeds passes, with its log streamed', async () => {
    const report = await runTask(workspaceFile('dags', 'team_a', 'orders_etl.py'), 'orders_etl', 'extract');
    assert.equal(report.outcome, 'passed', report.log.join('\n'));
    assert.ok(report.log.some((line) => line.includes('extracting orders for')), report.log.join('\n'));
  });

  test('a task that fails fails', async () => {
    const file = workspaceFile('dags', 'team_a', 'failing_task.py');
    writeBashDag(file, 'failing_task', 'boom', 'echo about to fail; exit 3');
    try {
      const api = await extensionApi();
      await api.project.reconsider(file);
      const report = await runTask(file, 'failing_task', 'boom');
      assert.equal(report.outcome, 'failed', report.log.join('\n'));
      assert.ok(report.log.some((line) => line.includes('about to fail')), report.log.join('\n'));
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});

suite('stopping a task run', () => {
  test('stop cancels the task and leaves no container or process of it behind', async () => {
    const file = workspaceFile('dags', 'team_a', 'long_task.py');
    // the sleep's own argument marks this test's processes: other work on the machine runs sleeps too
    const marker = `600.${process.pid}`;
    writeBashDag(file, 'long_task', 'wait', `echo waiting-for-ever; sleep ${marker}`);
    try {
      const api = await extensionApi();
      await api.project.reconsider(file);
      const parsed = await vscode.commands.executeCommand<{ state: string }>('airflowRuntime.parseFile', vscode.Uri.file(file));
      assert.equal(parsed?.state, 'parsed', JSON.stringify(parsed));
      const item = api.testing.taskItem(file, 'long_task', 'wait')!;
      const cancel = new vscode.CancellationTokenSource();
      const reported = new Promise<TaskRunReport>((resolve) => api.testing.onDidRunTask((report) => { if (report.taskId === 'wait') resolve(report); }));
      // the task's own command is running (in the container or locally): now stop it
      const sawSleep = new Promise<void>((resolve) => {
        const timer = setInterval(() => { if (sleeping(marker)) { clearInterval(timer); resolve(); } }, 200);
      });
      const running = api.testing.runItems([item], cancel.token);
      await sawSleep;
      cancel.cancel();
      await running;
      const report = await reported;
      assert.equal(report.outcome, 'skipped', report.log.join('\n'));
      assert.deepEqual(leftovers(file, marker), { containers: [], processes: [] });
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});

/** Whether a `sleep <marker>` runs on this machine (in a container of ours or here: both are in /proc). */
function sleeping(marker: string): boolean {
  return leftovers('', marker).processes.length > 0;
}

/** Containers labelled with this DAG file, and processes whose command line names the test's marker. */
function leftovers(file: string, marker: string): { containers: string[]; processes: string[] } {
  let containers: string[] = [];
  if (file) try {
    containers = execFileSync('docker', ['ps', '-q', '--filter', `label=airflow-runtime.dag-file=${file}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    // No docker CLI: the local engine ran it, and the process list below covers it.
  }
  const processes = fs.readdirSync('/proc').filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmdline.includes(marker);
    } catch {
      return false;
    }
  });
  return { containers, processes };
}

suite('running a whole DAG', () => {
  test('the DAG item runs as dag.test() does: every task item gets its own result, in order', async () => {
    const api = await extensionApi();
    const file = workspaceFile('dags', 'team_a', 'broken.py');
    // first passes, explode raises, never does not run (shared with the engine suite's test-dag)
    fs.copyFileSync(path.resolve(__dirname, '../../../../test/fixtures/dags/broken.py'), file);
    try {
      await api.project.reconsider(file);
      const parsed = await vscode.commands.executeCommand<{ state: string; result?: ParseResult }>('airflowRuntime.parseFile', vscode.Uri.file(file));
      assert.equal(parsed?.state, 'parsed', JSON.stringify(parsed));
      const dagItem = api.testing.controller.items.get(file)?.children.get(`${file}::broken`);
      assert.ok(dagItem, 'no test item for the DAG');
      const reports: TaskRunReport[] = [];
      const listener = api.testing.onDidRunTask((report) => { if (report.file === file) reports.push(report); });
      const recorder = recordTestRuns(api.testing.controller);
      try {
        await api.testing.runItems([dagItem]);
      } finally {
        recorder.dispose();
        listener.dispose();
      }
      // the DAG's line (its gutter icon, its row in Test Results) has the run's result of its own
      const dagLine = parsed.result!.dags[0].line! - 1;
      const gutter = gutterItemAt(api.testing.controller, file, dagLine);
      assert.ok(gutter, 'no test item at the DAG\'s line');
      const calls = recorder.runs.flat();
      assert.deepEqual(calls.filter(([, id]) => id === gutter.id).map(([state]) => state).slice(-1), ['failed'], JSON.stringify(calls));
      assert.equal(drawnState(calls, gutter), 'failed');
      assert.deepEqual(Object.fromEntries(reports.map((r) => [r.taskId, r.outcome])), { first: 'passed', explode: 'failed', never: 'failed' });
      assert.ok(reports[0].log.some((line) => line.includes('FIRST RAN')), 'one log for the run');
      assert.ok(!reports[0].log.some((line) => line.includes('NEVER RAN')));
      assert.match(String(reports.find((r) => r.taskId === 'never')?.message?.message), /an upstream task failed/);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  test("one task's run leaves the DAG's gutter icon to whole-DAG runs; all of its tasks run one by one decide it", async () => {
    const api = await extensionApi();
    const file = workspaceFile('dags', 'team_a', 'two_tasks.py');
    fs.writeFileSync(file, [
      'from datetime import datetime',
      'from airflow import DAG',
      'from airflow.operators.bash import BashOperator',
      '',
      'with DAG(dag_id="two_tasks", schedule=None, start_date=datetime(2024, 1, 1)):',
      '    one = BashOperator(task_id="one", bash_command="echo one")',
      '    two = BashOperator(task_id="two", bash_command="echo two")',
      '    one >> two',
      '',
    ].join('\n'));
    const recorder = recordTestRuns(api.testing.controller);
    try {
      await api.project.reconsider(file);
      const report = await runTask(file, 'two_tasks', 'one');
      assert.equal(report.outcome, 'passed', report.log.join('\n'));
      const gutter = gutterItemAt(api.testing.controller, file, 4);
      assert.ok(gutter, 'no test item at the DAG\'s line');
      assert.equal(drawnState(recorder.runs.at(-1)!, gutter), undefined, `one task's run drew the DAG's icon: ${JSON.stringify(recorder.runs.at(-1))}`);
      assert.equal(drawnState(recorder.runs.at(-1)!, gutterItemAt(api.testing.controller, file, 5)!), 'passed', 'the task\'s own icon');

      await api.testing.runItems([api.testing.controller.items.get(file)!]);
      const fileRun = recorder.runs.at(-1)!;
      assert.deepEqual(fileRun.filter(([state]) => state === 'passed').map(([, id]) => id.split('::').slice(1).join('::')).sort(), ['two_tasks::(whole DAG)', 'two_tasks::one', 'two_tasks::two']);
      assert.equal(drawnState(fileRun, gutter), 'passed');
    } finally {
      recorder.dispose();
      fs.rmSync(file, { force: true });
    }
  });
});
