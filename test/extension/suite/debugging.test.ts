// Debugging a task, and a DAG file's parse, inside its runtime: breakpoints in the editor, code in the
// container (or the local emulator), through our own debug type with no Python extension installed.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TaskRunReport } from '../../../src/vscode/testing';
import { extensionApi, workspaceFile } from './workspace';

const ENV_CACHE = process.env.AIRFLOW_RUNTIME_ENV_CACHE ?? path.join(os.homedir(), '.cache', 'airflow-runtime-env');
const venvPython = (version: string) => path.join(ENV_CACHE, 'venvs', `airflow-${version}`, 'bin', 'python');

/** A one-task DAG whose task prints `marker`: whether it went on is in its log. */
function taskDag(dagId: string, marker: string): string {
  return [
    'from datetime import datetime',
    'from airflow.decorators import dag, task',
    '',
    '@dag(schedule=None, start_date=datetime(2024, 1, 1))',
    `def ${dagId}():`,
    '    @task',
    '    def compute():',
    '        answer = 6 * 7',
    `        print("ANSWER", answer, "${marker}")`,
    '        return answer',
    '',
    '    compute()',
    '',
    `${dagId}()`,
    '',
  ].join('\n');
}
const BREAKPOINT_LINE = 9; // print("ANSWER", ...): before it runs

interface Stop { session: vscode.DebugSession; threadId: number }

/** Resolves at the next `stopped` event of one of our debug sessions. */
function nextStop(): Promise<Stop> {
  return new Promise((resolve) => {
    const registration = vscode.debug.registerDebugAdapterTrackerFactory('airflow-runtime', {
      createDebugAdapterTracker: (session) => ({
        onDidSendMessage: (message: { type?: string; event?: string; body?: { threadId?: number } }) => {
          if (message.type !== 'event' || message.event !== 'stopped') return;
          registration.dispose();
          resolve({ session, threadId: message.body!.threadId! });
        },
      }),
    });
  });
}

/** Where a stopped session is (top frame, through the DAP `stackTrace` request) and a local's value. */
async function inspect(stop: Stop, variable: string): Promise<{ file: string; line: number; value?: string }> {
  const trace = await stop.session.customRequest('stackTrace', { threadId: stop.threadId, startFrame: 0, levels: 1 });
  const frame = trace.stackFrames[0] as { id: number; line: number; source: { path: string } };
  const scopes = await stop.session.customRequest('scopes', { frameId: frame.id });
  const locals = (scopes.scopes as { name: string; variablesReference: number }[]).find((s) => /local/i.test(s.name))!;
  const variables = await stop.session.customRequest('variables', { variablesReference: locals.variablesReference });
  // in a remote window (code-server) VS Code hands paths over as vscode-remote URIs
  const file = /^[a-z-]+:\/\//.test(frame.source.path) ? vscode.Uri.parse(frame.source.path).fsPath : frame.source.path;
  return { file, line: frame.line, value: (variables.variables as { name: string; value: string }[]).find((v) => v.name === variable)?.value };
}

function reportOf(file: string, taskId: string): Promise<TaskRunReport> {
  return extensionApi().then((api) => new Promise((resolve) => {
    const listener = api.testing.onDidRunTask((report) => {
      if (report.file !== file || report.taskId !== taskId) return;
      listener.dispose();
      resolve(report);
    });
  }));
}

/** Containers of this DAG file, and processes whose command line names it (the harness's `--file`). */
function leftovers(file: string): string[] {
  const containers = execFileSync('docker', ['ps', '-aq', '--filter', `label=airflow-runtime.dag-file=${file}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
  const processes = fs.readdirSync('/proc').filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(file);
    } catch {
      return false;
    }
  });
  return [...containers, ...processes];
}

async function useEngine(engine: 'docker' | 'local' | undefined): Promise<void> {
  const api = await extensionApi();
  await vscode.workspace.getConfiguration('airflowRuntime').update('engine', engine, vscode.ConfigurationTarget.Global);
  await api.project.session.reset();
}

for (const [engine, version, team] of [['docker', '2.11.2', 'team_a'], ['docker', '3.3.2', 'team_b'], ['local', '2.11.2', 'team_a'], ['local', '3.3.2', 'team_b']] as const) {
  suite(`debugging a task, ${engine}, Airflow ${version}`, () => {
    test('stops at a breakpoint in the task, shows a local, continues, and the task passes; nothing is left', async function () {
      this.timeout(300_000);
      const api = await extensionApi();
      const marker = `debugged-${engine}-${version}-${process.pid}`;
      const dagId = `debugged_${engine}_${version.replace(/\./g, '_')}`;
      const file = workspaceFile('dags', team, `${dagId}.py`);
      const runtimeFile = workspaceFile('dags', team, `${dagId}.airflow-runtime.yaml`);
      fs.writeFileSync(file, taskDag(dagId, marker));
      fs.writeFileSync(runtimeFile, `local:\n  python: ${venvPython(version)}\n`);
      await useEngine(engine);
      const breakpoint = new vscode.SourceBreakpoint(new vscode.Location(vscode.Uri.file(file), new vscode.Position(BREAKPOINT_LINE - 1, 0)));
      try {
        await api.project.reconsider(file);
        const parsed = await vscode.commands.executeCommand<{ state: string }>('airflowRuntime.parseFile', vscode.Uri.file(file));
        assert.equal(parsed?.state, 'parsed', JSON.stringify(parsed));
        assert.equal(api.project.session.status.state === 'ready' && api.project.session.status.kind, engine);
        vscode.debug.addBreakpoints([breakpoint]);
        const item = api.testing.taskItem(file, dagId, 'compute')!;
        const stopped = nextStop();
        const reported = reportOf(file, 'compute');
        const running = api.testing.runItems([item], undefined, true);
        const stop = await stopped;
        assert.deepEqual(await inspect(stop, 'answer'), { file, line: BREAKPOINT_LINE, value: '42' });
        await stop.session.customRequest('continue', { threadId: stop.threadId });
        await running;
        const report = await reported;
        assert.equal(report.outcome, 'passed', report.log.join('\n'));
        assert.ok(report.log.some((line) => line.includes(`ANSWER 42 ${marker}`)), report.log.join('\n'));
        assert.deepEqual(leftovers(file), []);
      } finally {
        vscode.debug.removeBreakpoints([breakpoint]);
        await useEngine(undefined);
        fs.rmSync(file, { force: true });
        fs.rmSync(runtimeFile, { force: true });
      }
    });
  });
}

suite('debugging', () => {
  test('stopping the session mid-task cancels the run: the item is cancelled and nothing is left', async function () {
    this.timeout(300_000);
    const api = await extensionApi();
    const marker = `stopped-${process.pid}`;
    const file = workspaceFile('dags', 'team_a', 'debug_stopped.py');
    fs.writeFileSync(file, taskDag('debug_stopped', marker));
    const breakpoint = new vscode.SourceBreakpoint(new vscode.Location(vscode.Uri.file(file), new vscode.Position(BREAKPOINT_LINE - 1, 0)));
    try {
      await api.project.reconsider(file);
      await vscode.commands.executeCommand('airflowRuntime.parseFile', vscode.Uri.file(file));
      vscode.debug.addBreakpoints([breakpoint]);
      const stopped = nextStop();
      const reported = reportOf(file, 'compute');
      const running = api.testing.runItems([api.testing.taskItem(file, 'debug_stopped', 'compute')!], undefined, true);
      const stop = await stopped;
      await vscode.debug.stopDebugging(stop.session);
      await running;
      const report = await reported;
      assert.equal(report.outcome, 'skipped', report.log.join('\n'));
      assert.ok(!report.log.some((line) => line.includes(`ANSWER 42 ${marker}`)), `the task did not go on:\n${report.log.slice(-15).join('\n')}`);
      assert.deepEqual(leftovers(file), []);
    } finally {
      vscode.debug.removeBreakpoints([breakpoint]);
      fs.rmSync(file, { force: true });
    }
  });

  test('Debug DAG File Parse stops at a breakpoint in a helper module the DAG file imports', async function () {
    this.timeout(300_000);
    const api = await extensionApi();
    const helper = workspaceFile('dags', 'team_a', 'dbg_helpers.py');
    const file = workspaceFile('dags', 'team_a', 'built_from_config.py');
    fs.writeFileSync(helper, ['def task_names(config):', '    names = [f"load_{table}" for table in config]', '    return names', ''].join('\n'));
    fs.writeFileSync(file, [
      'from datetime import datetime',
      'from airflow import DAG',
      'from airflow.operators.empty import EmptyOperator',
      'from team_a.dbg_helpers import task_names',
      '',
      'with DAG(dag_id="built_from_config", schedule=None, start_date=datetime(2024, 1, 1)):',
      '    for name in task_names(["orders", "customers"]):',
      '        EmptyOperator(task_id=name)',
      '',
    ].join('\n'));
    const breakpoint = new vscode.SourceBreakpoint(new vscode.Location(vscode.Uri.file(helper), new vscode.Position(2, 0)));
    try {
      await api.project.reconsider(file);
      vscode.debug.addBreakpoints([breakpoint]);
      const stopped = nextStop();
      const parsing = vscode.commands.executeCommand<{ state: string; result?: { dags: { tasks: unknown[] }[] } }>('airflowRuntime.debugParse', vscode.Uri.file(file));
      const stop = await stopped;
      assert.deepEqual(await inspect(stop, 'names'), { file: helper, line: 3, value: "['load_orders', 'load_customers']" });
      await stop.session.customRequest('continue', { threadId: stop.threadId });
      const outcome = await parsing;
      assert.equal(outcome?.state, 'parsed', JSON.stringify(outcome));
      assert.equal(outcome.result?.dags[0].tasks.length, 2);
    } finally {
      vscode.debug.removeBreakpoints([breakpoint]);
      fs.rmSync(file, { force: true });
      fs.rmSync(helper, { force: true });
    }
  });
});
