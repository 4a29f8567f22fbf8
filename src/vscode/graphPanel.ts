import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { stateOf } from '../core/project/dagFileStates';
import { dagGraphOf, visibleGraph } from '../core/graph/dagGraph';
import { layoutGraph } from '../core/graph/layout';
import type { FromGraphView, ToGraphView } from '../core/graph/protocol';
import { dagKey } from '../core/project/itemKeys';
import type { Project } from './project';

export const GRAPH_VIEW_TYPE = 'airflowRuntime.graph';

/** The graph panels of the window, one per DAG: "Show Graph" reveals the DAG's panel when it has one. */
export class DagGraphPanels implements vscode.Disposable {
  private readonly panels = new Map<string, DagGraphPanel>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly project: Project, private readonly extensionUri: vscode.Uri) {
    this.disposables.push(
      // a new result, a save or a runtime change (stale until the parse that follows), the file gone
      project.parser.states.onDidChange((files) => this.panels.forEach((panel) => { if (files.includes(panel.file)) void panel.redraw(); })),
      project.runStates.onDidChange((key) => this.panels.get(key)?.postStates()),
    );
  }

  /** Opens (or reveals) the graph of a DAG; the file is parsed first when it has no result yet. */
  async show(file: string, dagId: string): Promise<DagGraphPanel> {
    const key = dagKey(file, dagId);
    let panel = this.panels.get(key);
    if (panel) {
      panel.panel.reveal();
      return panel;
    }
    panel = new DagGraphPanel(file, dagId, this.project, this.extensionUri);
    this.panels.set(key, panel);
    panel.panel.onDidDispose(() => this.panels.delete(key));
    if (!this.project.parser.states.get(file)?.result && this.project.isTrusted) void this.project.parser.parse(file);
    return panel;
  }

  /** The open panel of a DAG (the extension's tests drive its message protocol). */
  panelOf(file: string, dagId: string): DagGraphPanel | undefined {
    return this.panels.get(dagKey(file, dagId));
  }

  dispose(): void {
    this.panels.forEach((panel) => panel.panel.dispose());
    this.disposables.forEach((d) => d.dispose());
  }
}

/**
 * One DAG's graph: sends the webview the laid-out graph of the file's latest parse (again when it is parsed
 * again, keeping folded groups; the view keeps its zoom) and the states of the DAG's runs; does what the
 * view asks.
 */
export class DagGraphPanel {
  readonly panel: vscode.WebviewPanel;
  /** Folded task groups, by id: kept across redraws. */
  readonly collapsed = new Set<string>();
  /** What the webview said (its first word is `ready`, once its script runs under the CSP). */
  readonly received: FromGraphView[] = [];
  /** What was sent to the webview, latest last: for the extension's tests. */
  readonly sent: ToGraphView[] = [];
  private drawing = Promise.resolve();
  /** Closed by the person: a drawing or a run's states that arrive later have nowhere to go. */
  private disposed = false;
  /** What the last drawing was made of: a redraw of the same is skipped (a parse starting changes nothing drawn). */
  private drawnFrom?: { result: unknown; stale: boolean; collapsed: string };

  constructor(readonly file: string, readonly dagId: string, private readonly project: Project, extensionUri: vscode.Uri) {
    const roots = [vscode.Uri.joinPath(extensionUri, 'media'), vscode.Uri.joinPath(extensionUri, 'dist', 'webview')];
    this.panel = vscode.window.createWebviewPanel(GRAPH_VIEW_TYPE, `${dagId} (graph)`, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false }, {
      enableScripts: true,
      localResourceRoots: roots,
      retainContextWhenHidden: false,
    });
    this.panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'airflow.svg');
    this.panel.webview.html = graphHtml(this.panel.webview, extensionUri, dagId);
    this.panel.webview.onDidReceiveMessage((message: FromGraphView) => void this.handle(message));
    this.panel.onDidDispose(() => { this.disposed = true; });
  }

  /** What the view asked for; errors are shown, not thrown into the webview's message loop. */
  async handle(message: FromGraphView): Promise<void> {
    this.received.push(message);
    try {
      switch (message.type) {
        case 'ready':
          this.drawnFrom = undefined; // a (re)loaded page has drawn nothing
          await this.redraw();
          this.postStates();
          return;
        case 'open': {
          const task = this.dag()?.tasks.find((t) => t.taskId === message.taskId);
          if (!task) return;
          const line = Math.max(0, (task.line ?? 1) - 1);
          await vscode.window.showTextDocument(vscode.Uri.file(task.file ?? this.file), { viewColumn: vscode.ViewColumn.One, selection: new vscode.Range(line, 0, line, 0) });
          return;
        }
        case 'runTask':
          await vscode.commands.executeCommand('airflowRuntime.runTask', { file: this.file, dagId: this.dagId, taskId: message.taskId });
          return;
        case 'debugTask':
          await vscode.commands.executeCommand('airflowRuntime.debugTask', { file: this.file, dagId: this.dagId, taskId: message.taskId });
          return;
        case 'runDag':
          await vscode.commands.executeCommand('airflowRuntime.runDag', { file: this.file, dagId: this.dagId });
          return;
        case 'toggle':
          if (!this.collapsed.delete(message.groupId)) this.collapsed.add(message.groupId);
          await this.redraw();
          return;
      }
    } catch (error) {
      void vscode.window.showErrorMessage(`Airflow: the graph of ${this.dagId}: ${(error as Error).message}`);
    }
  }

  /** Draws the DAG of the file's latest parse, or says why there is none. One drawing at a time, in order. */
  redraw(): Promise<void> {
    this.drawing = this.drawing.then(() => this.draw()).catch((error: Error) => this.post({ type: 'notice', text: `The graph could not be laid out: ${error.message}` }));
    return this.drawing;
  }

  postStates(): void {
    const states = Object.fromEntries(this.project.runStates.of(this.file, this.dagId));
    this.post({ type: 'states', states, running: Object.values(states).some((entry) => entry.state === 'running' || entry.state === 'queued') });
  }

  private async draw(): Promise<void> {
    const record = this.project.parser.states.get(this.file);
    const dag = this.dag();
    if (!dag) {
      const name = path.basename(this.file);
      const state = stateOf(record);
      const why = !record ? `${name} is no longer a DAG file.`
        : state === 'parsing' || state === 'unparsed' ? `Parsing ${name}…`
        : record.result?.importErrors.length ? `${name} has an import error: ${record.result.importErrors[0].message}`
        : record.failure ? `${name} could not be parsed: ${record.failure.message}`
        : `${name} no longer defines the DAG ${this.dagId}.`;
      this.drawnFrom = undefined;
      return this.post({ type: 'notice', text: why });
    }
    const graph = dagGraphOf(dag);
    for (const id of this.collapsed) if (!graph.groups.some((group) => group.id === id)) this.collapsed.delete(id);
    const from = { result: record?.result, stale: !!record?.stale, collapsed: [...this.collapsed].sort().join('\n') };
    if (this.drawnFrom && this.drawnFrom.result === from.result && this.drawnFrom.stale === from.stale && this.drawnFrom.collapsed === from.collapsed) return;
    this.drawnFrom = from;
    const visible = visibleGraph(graph, this.collapsed);
    const layout = await layoutGraph(visible);
    const folded = Object.fromEntries(visible.nodes.flatMap((node) => (node.kind === 'group' ? [[node.id, node.taskIds]] : [])));
    this.post({ type: 'graph', file: this.file, dagId: this.dagId, graph, layout, collapsed: [...this.collapsed], folded, stale: !!record?.stale });
  }

  private dag() {
    return this.project.parser.states.get(this.file)?.result?.dags.find((dag) => dag.dagId === this.dagId);
  }

  private post(message: ToGraphView): void {
    if (this.disposed) return;
    this.sent.push(message);
    if (this.sent.length > 200) this.sent.shift();
    void this.panel.webview.postMessage(message);
  }
}

/** The page: our script and stylesheet only (a nonce), no inline style, no remote resource of any kind. */
function graphHtml(webview: vscode.Webview, extensionUri: vscode.Uri, dagId: string): string {
  const nonce = randomBytes(16).toString('base64');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', 'graph.js'));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'graph.css'));
  const csp = `default-src 'none'; style-src ${webview.cspSource}; img-src ${webview.cspSource}; font-src ${webview.cspSource}; script-src 'nonce-${nonce}'`;
  const escaped = dagId.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>${escaped}</title>
</head>
<body>
<header>
  <h1 id="title">${escaped}</h1>
  <span class="summary" id="summary"></span>
  <button id="fit" class="secondary" title="Fit the graph to the window">Fit</button>
  <button id="run" title="Run the whole DAG in its runtime, as dag.test() does">Run DAG</button>
</header>
<div id="notice">Parsing…</div>
<svg id="graph" xmlns="http://www.w3.org/2000/svg" aria-label="Graph of ${escaped}">
  <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>
  <g id="scene"></g>
</svg>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
}
