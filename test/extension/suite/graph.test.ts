// The DAG graph view: the panel opens and its script runs under its CSP, its message protocol (a node click opens
// the line, a fold survives a re-parse, a node's run starts that task), and runs fill in the states it draws.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ToGraphView } from '../../../src/core/graph/protocol';
import type { TaskRunReport } from '../../../src/vscode/testing';
import * as fs from 'node:fs';
import { eventually, extensionApi, gutterItemAt, recordTestRuns, workspaceFile } from './workspace';

const METRICS = () => workspaceFile('dags', 'team_a', 'customer_metrics.py');
const DAG_ID = 'customer_metrics';
const TASKS = ['fetch_customers', 'metrics.count', 'metrics.longest_name', 'publish'];

type GraphMessage = Extract<ToGraphView, { type: 'graph' }>;
type StatesMessage = Extract<ToGraphView, { type: 'states' }>;

async function openGraph() {
  const api = await extensionApi();
  await vscode.commands.executeCommand('airflowRuntime.showGraph', { file: METRICS(), dagId: DAG_ID });
  const panel = api.graphs.panelOf(METRICS(), DAG_ID);
  assert.ok(panel, 'Show Graph opened no panel');
  await eventually(() => panel.received.map((m) => m.type), (types) => types.includes('ready'), 'the webview script never said ready', 30_000);
  await eventually(() => panel.sent.some((m) => m.type === 'graph'), Boolean, 'no graph was sent', 60_000);
  return { api, panel, lastGraph: () => panel.sent.filter((m): m is GraphMessage => m.type === 'graph').pop()! };
}

suite('the DAG graph', () => {
  suiteTeardown(() => vscode.commands.executeCommand('workbench.action.closeAllEditors'));

  test('Show Graph opens a panel for the DAG: its script runs under a strict CSP, and it draws tasks, groups and edges', async () => {
    const { panel, lastGraph } = await openGraph();
    const html = panel.panel.webview.html;
    assert.match(html, /Content-Security-Policy" content="default-src 'none'; style-src [^;]+; img-src [^;]+; font-src [^;]+; script-src 'nonce-[^']+'"/);
    assert.doesNotMatch(html, /unsafe-inline|unsafe-eval/);
    const loads = [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    assert.equal(loads.length, 2, 'one script, one stylesheet');
    for (const url of loads) assert.match(url, /^https:\/\/[^/]*vscode-resource[^/]*\/.*\/(dist\/webview\/graph\.js|media\/graph\.css)$/, 'only the extension\'s own files');
    const graph = lastGraph();
    assert.deepEqual(graph.graph.tasks.map((t) => t.id).sort(), [...TASKS].sort());
    assert.deepEqual(graph.graph.groups.map((g) => g.id), ['metrics']);
    assert.deepEqual(graph.layout.frames.map((f) => f.id), ['metrics']);
    assert.equal(graph.layout.edges.length, 4);
    const x = (id: string) => graph.layout.nodes.find((n) => n.id === id)!.x;
    assert.ok(x('fetch_customers') < x('metrics.count') && x('metrics.count') < x('publish'), 'left to right');
  });

  test('a node click opens its line; a folded group stays folded when the file is parsed again', async () => {
    const { api, panel, lastGraph } = await openGraph();
    await panel.handle({ type: 'open', taskId: 'metrics.count' });
    const line = lastGraph().graph.tasks.find((t) => t.id === 'metrics.count')!.line!;
    const editor = vscode.window.activeTextEditor;
    assert.equal(editor?.document.uri.fsPath, METRICS());
    assert.equal(editor?.selection.active.line, line - 1);
    assert.match(editor!.document.lineAt(line - 1).text + editor!.document.lineAt(line).text, /@task.*def count|count\(customers\)/);

    await panel.handle({ type: 'toggle', groupId: 'metrics' });
    assert.deepEqual(lastGraph().collapsed, ['metrics']);
    assert.deepEqual(lastGraph().layout.nodes.map((n) => n.id).sort(), ['fetch_customers', 'metrics', 'publish']);
    assert.deepEqual(lastGraph().folded.metrics?.slice().sort(), ['metrics.count', 'metrics.longest_name'], 'the folded node stands for its tasks');
    const before = panel.sent.length;
    await api.project.parser.parse(METRICS());
    const redrawn = await eventually(() => panel.sent.slice(before).filter((m): m is GraphMessage => m.type === 'graph').pop(), Boolean, 'no redraw after the parse');
    assert.deepEqual(redrawn?.collapsed, ['metrics']);
    await panel.handle({ type: 'toggle', groupId: 'metrics' });
    assert.deepEqual(lastGraph().collapsed, []);
  });

  test("a node's run starts that task, and the graph is told its states as it runs", async () => {
    const { api, panel } = await openGraph();
    const reports: TaskRunReport[] = [];
    const listener = api.testing.onDidRunTask((report) => reports.push(report));
    const before = panel.sent.length;
    await panel.handle({ type: 'runTask', taskId: 'fetch_customers' });
    listener.dispose();
    assert.deepEqual(reports.map((r) => [r.taskId, r.outcome]), [['fetch_customers', 'passed']], reports.map((r) => r.log.join('\n')).join('\n'));
    const states = panel.sent.slice(before).filter((m): m is StatesMessage => m.type === 'states');
    assert.ok(states.some((m) => m.states.fetch_customers?.state === 'running' && m.running), 'running was drawn');
    const last = states[states.length - 1];
    assert.equal(last.states.fetch_customers?.state, 'success');
    assert.ok((last.states.fetch_customers?.durationMs ?? 0) > 0);
    assert.equal(last.running, false);
  });

  test('Run DAG with a date and conf runs every task in order; the graph and every task item get their results', async () => {
    const { api, panel } = await openGraph();
    const reports: TaskRunReport[] = [];
    // what the run had drawn of publish (the last task) when each task item got its result
    const publishWhenReported = new Map<string, string | undefined>();
    const listener = api.testing.onDidRunTask((report) => {
      if (report.file !== METRICS()) return;
      reports.push(report);
      publishWhenReported.set(report.taskId, api.project.runStates.of(METRICS(), DAG_ID).get('publish')?.state);
    });
    const before = panel.sent.length;
    const recorder = recordTestRuns(api.testing.controller);
    const ran = await Promise.resolve(vscode.commands.executeCommand('airflowRuntime.runDag', { file: METRICS(), dagId: DAG_ID }, { date: '2024-03-01', conf: '{"region": "eu"}' })).finally(() => recorder.dispose());
    listener.dispose();
    // the DAG's own item (its line's gutter icon, its row in Test Results) passed: the run's result, not a hollow row
    const dagLine = api.project.parser.states.get(METRICS())!.result!.dags.find((dag) => dag.dagId === DAG_ID)!.line! - 1;
    const dagItem = gutterItemAt(api.testing.controller, METRICS(), dagLine);
    assert.ok(dagItem, 'no test item at the DAG\'s line');
    assert.deepEqual(recorder.runs.flat().filter(([, id]) => id === dagItem.id).map(([state]) => state), ['enqueued', 'started', 'passed']);
    assert.deepEqual(ran, { file: METRICS(), dagId: DAG_ID });
    assert.deepEqual(Object.fromEntries(reports.map((r) => [r.taskId, r.outcome])), Object.fromEntries(TASKS.map((t) => [t, 'passed'])), reports[0]?.log.join('\n'));
    assert.ok(reports.at(-1)!.log.some((line) => line.includes('publishing')), 'the run log streamed');
    assert.notEqual(publishWhenReported.get('fetch_customers'), 'success', 'the first task had its result as it ended, not when the run did');
    const states = panel.sent.slice(before).filter((m): m is StatesMessage => m.type === 'states');
    assert.deepEqual(Object.keys(states[0].states).sort(), [...TASKS].sort(), 'every task is queued first');
    assert.ok(states.every((m) => m.states.fetch_customers?.state !== 'queued' || m.states.publish?.state === 'queued'), 'publish never ran before fetch_customers');
    const last = states[states.length - 1];
    assert.deepEqual(Object.fromEntries(Object.entries(last.states).map(([id, e]) => [id, e.state])), Object.fromEntries(TASKS.map((t) => [t, 'success'])));
  });

  test('a failed run is forgotten once the file is fixed and parsed again', async () => {
    const api = await extensionApi();
    const file = workspaceFile('dags', 'team_a', 'fixed_later.py');
    const dagText = (command: string) => [
      'from datetime import datetime',
      'from airflow import DAG',
      'from airflow.operators.bash import BashOperator',
      '',
      'with DAG(dag_id="fixed_later", schedule=None, start_date=datetime(2024, 1, 1)):',
      `    BashOperator(task_id="step", bash_command="${command}")`,
      '',
    ].join('\n');
    fs.writeFileSync(file, dagText('exit 3'));
    try {
      await api.project.reconsider(file);
      await vscode.commands.executeCommand('airflowRuntime.showGraph', { file, dagId: 'fixed_later' });
      const panel = api.graphs.panelOf(file, 'fixed_later')!;
      await eventually(() => panel.sent.some((m) => m.type === 'graph'), Boolean, 'no graph was sent', 60_000);
      await panel.handle({ type: 'runTask', taskId: 'step' });
      const lastStates = () => panel.sent.filter((m): m is StatesMessage => m.type === 'states').pop()?.states;
      assert.equal(lastStates()?.step?.state, 'failed');
      // fixed and saved: the parse of the new code makes the failure history
      fs.writeFileSync(file, dagText('echo fixed'));
      const parsed = await vscode.commands.executeCommand<{ state: string }>('airflowRuntime.parseFile', vscode.Uri.file(file));
      assert.equal(parsed?.state, 'parsed', JSON.stringify(parsed));
      assert.deepEqual([...api.project.runStates.of(file, 'fixed_later').keys()], []);
      await eventually(lastStates, (states) => !!states && Object.keys(states).length === 0, 'the graph told that the failed state is gone');
      panel.panel.dispose();
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});
