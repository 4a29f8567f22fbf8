import * as path from 'node:path';
import * as vscode from 'vscode';
import { whatToDoText } from '../core/engine/errors';
import { type DagInfo, type ImportErrorInfo, operatorLabel, type TaskInfo } from '../core/harness/parseResult';
import { type DagFileRecord, type ParseState, stateOf } from '../core/project/dagFileStates';
import type { EngineStatus } from '../core/project/engineSession';
import { describeSource } from '../core/runtime/describe';
import { redactedValues } from '../core/runtime/secrets';
import type { EffectiveRuntime } from '../core/runtime/resolve';
import { withoutHarnessFrames } from '../core/engine/traceback';
import type { Project } from './project';
import type { SlowWork } from './slowWork';

/** A node of the DAG Files view. Nodes of DAG files are kept, so a refresh can name just the ones that changed. */
export type DagTreeNode =
  | { kind: 'notice'; id: string; label: string; detail?: string; icon: string; actions: Action[] }
  | { kind: 'action'; id: string; action: Action }
  | { kind: 'folder'; id: string; folder: string; label: string; files: string[] }
  | { kind: 'dagFile'; id: string; file: string }
  | { kind: 'importError'; id: string; error: ImportErrorInfo }
  | { kind: 'dag'; id: string; file: string; dag: DagInfo }
  | { kind: 'taskGroup'; id: string; file: string; dag: DagInfo; group: string }
  | { kind: 'task'; id: string; file: string; dag: DagInfo; task: TaskInfo };

interface Action {
  label: string;
  icon: string;
  command: vscode.Command;
}

const STATE_ICONS: Record<ParseState, vscode.ThemeIcon> = {
  unparsed: new vscode.ThemeIcon('circle-large-outline'),
  parsing: new vscode.ThemeIcon('sync~spin'),
  parsed: new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed')),
  'import-error': new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed')),
  failed: new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground')),
  stale: new vscode.ThemeIcon('history'),
};

const STATE_WORDS: Record<ParseState, string> = {
  unparsed: 'not parsed', parsing: 'parsing…', parsed: 'parsed', 'import-error': 'import error', failed: 'not parsed: engine problem', stale: 'changed since the last parse',
};

/** The DAG Files view: DAG files by folder, their DAGs and tasks, and engine problems drawn as items with fix-its. */
export class DagTree implements vscode.TreeDataProvider<DagTreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<DagTreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly fileNodes = new Map<string, DagTreeNode & { kind: 'dagFile' }>();
  private pendingFiles = new Set<string>();
  private pendingAll = false;
  private flushTimer?: NodeJS.Timeout;

  constructor(private readonly project: Project, private readonly slowWork?: SlowWork) {}

  /** Debounced: a burst of changes (a parse-all) becomes one refresh, naming only the files that changed. */
  refresh(files?: readonly string[]): void {
    if (!files) this.pendingAll = true;
    else for (const file of files) this.pendingFiles.add(file);
    this.flushTimer ??= setTimeout(() => this.flush(), 50);
  }

  getTreeItem(node: DagTreeNode): vscode.TreeItem {
    switch (node.kind) {
      case 'notice': return noticeItem(node);
      case 'action': return actionItem(node);
      case 'folder': return folderItem(node);
      case 'dagFile': return this.dagFileItem(node.file);
      case 'importError': return importErrorItem(node);
      case 'dag': return dagItem(node);
      case 'taskGroup': return taskGroupItem(node);
      case 'task': return taskItem(node);
    }
  }

  getChildren(node?: DagTreeNode): DagTreeNode[] {
    if (!node) return this.roots();
    switch (node.kind) {
      case 'notice':
        return node.actions.map((action, n) => ({ kind: 'action', id: `${node.id}/action/${n}`, action }));
      case 'folder':
        return node.files.map((file) => this.fileNode(file));
      case 'dagFile':
        return this.fileChildren(node.file);
      case 'dag':
        return groupChildren(node.file, node.dag, null);
      case 'taskGroup':
        return groupChildren(node.file, node.dag, node.group);
      default:
        return [];
    }
  }

  getParent(node: DagTreeNode): DagTreeNode | undefined {
    if (node.kind !== 'dagFile') return undefined;
    const folders = this.folderNodes();
    return folders.length > 1 ? folders.find((folder) => folder.files.includes(node.file)) : undefined;
  }

  /** For tests and the e2e suite: what each DAG file row shows. */
  snapshot(): { file: string; label: string; description: string; image?: string; state: ParseState }[] {
    return this.project.parser.states.files.map((file) => {
      const item = this.dagFileItem(file);
      const image = this.project.runtimes.runtimeOf(file).values.image;
      return { file, label: String(item.label), description: String(item.description ?? ''), image, state: stateOf(this.project.parser.states.get(file)) };
    });
  }

  /** For tests: the hover of a DAG file's row, as text. */
  tooltipOf(file: string): string {
    const tooltip = this.dagFileItem(file).tooltip;
    return typeof tooltip === 'string' ? tooltip : tooltip?.value ?? '';
  }

  dispose(): void {
    clearTimeout(this.flushTimer);
    this.changed.dispose();
  }

  private flush(): void {
    this.flushTimer = undefined;
    const known = (file: string) => this.fileNodes.has(file) && this.project.isDagFile(file);
    if (this.pendingAll || ![...this.pendingFiles].every(known)) this.changed.fire(undefined);
    else for (const file of this.pendingFiles) this.changed.fire(this.fileNodes.get(file));
    this.pendingAll = false;
    this.pendingFiles = new Set();
  }

  private roots(): DagTreeNode[] {
    const roots: DagTreeNode[] = [...this.notices()];
    const folders = this.folderNodes();
    // One folder needs no folder row.
    if (folders.length === 1) roots.push(...folders[0].files.map((file) => this.fileNode(file)));
    else roots.push(...folders);
    return roots;
  }

  private notices(): DagTreeNode[] {
    const notices: DagTreeNode[] = [];
    if (!this.project.firstScanDone && this.project.parser.states.files.length === 0) {
      notices.push({ kind: 'notice', id: 'notice/scanning', icon: 'loading~spin', label: 'Looking for DAG files…', actions: [] });
    }
    if (!this.project.isTrusted) {
      notices.push({
        kind: 'notice', id: 'notice/restricted', icon: 'shield', label: 'Restricted mode: parse and run are off',
        detail: 'Parsing and running a DAG file executes its code. Trust this workspace to turn them on.',
        actions: [{ label: 'Manage Workspace Trust', icon: 'workspace-trusted', command: { title: 'Manage Workspace Trust', command: 'workbench.trust.manage' } }],
      });
    }
    const status: EngineStatus = this.project.session.status;
    if (status.state === 'failed') {
      notices.push({
        kind: 'notice', id: 'notice/engine', icon: 'error', label: headline(status.error.message), detail: status.error.describe(),
        actions: [
          { label: 'Retry', icon: 'debug-restart', command: { title: 'Retry', command: 'airflowRuntime.retryEngine' } },
          { label: 'Use the local runtime emulator', icon: 'vm', command: { title: 'Use the local runtime emulator', command: 'airflowRuntime.useLocalEngine' } },
          { label: 'Open settings', icon: 'gear', command: { title: 'Open settings', command: 'airflowRuntime.openSettings', arguments: ['airflowRuntime.docker.endpoint'] } },
        ],
      });
    }
    return notices;
  }

  private folderNodes(): (DagTreeNode & { kind: 'folder' })[] {
    const byFolder = new Map<string, string[]>();
    for (const file of this.project.parser.states.files) {
      const folder = path.dirname(file);
      byFolder.set(folder, [...(byFolder.get(folder) ?? []), file]);
    }
    return [...byFolder.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([folder, files]) => ({
      kind: 'folder', id: `folder/${folder}`, folder, files,
      label: vscode.workspace.asRelativePath(folder, (vscode.workspace.workspaceFolders?.length ?? 0) > 1),
    }));
  }

  private fileNode(file: string): DagTreeNode & { kind: 'dagFile' } {
    let node = this.fileNodes.get(file);
    if (!node) this.fileNodes.set(file, (node = { kind: 'dagFile', id: `file/${file}`, file }));
    return node;
  }

  private dagFileItem(file: string): vscode.TreeItem {
    const record = this.project.parser.states.get(file);
    const state = stateOf(record);
    const item = new vscode.TreeItem(path.basename(file), state === 'unparsed' || state === 'parsing' ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.Expanded);
    item.id = `file/${file}`;
    item.resourceUri = vscode.Uri.file(file);
    item.iconPath = STATE_ICONS[state];
    let runtime: EffectiveRuntime | undefined;
    try {
      runtime = this.project.runtimes.runtimeOf(file);
    } catch {
      runtime = undefined;
    }
    // The reference as the user wrote it (the repository says whose image it is); only Docker Hub's implied prefix goes.
    const image = shortImage(runtime?.values.image ?? '(no image)');
    const stage = state === 'parsing' ? this.slowWork?.stageOf(file) : undefined;
    item.description = state === 'parsed' || state === 'unparsed' ? image : `${image} · ${stage ?? STATE_WORDS[state]}`;
    item.tooltip = fileTooltip(file, state, record, runtime);
    item.command = { title: 'Open', command: 'vscode.open', arguments: [vscode.Uri.file(file)] };
    item.contextValue = `dagFile.${state}`;
    return item;
  }

  private fileChildren(file: string): DagTreeNode[] {
    const record = this.project.parser.states.get(file);
    if (!record) return [];
    // Expanding a file that was never parsed parses it (its children arrive with the result).
    if (!record.result && !record.failure && !record.parsing && this.project.isTrusted) void this.project.parser.parse(file);
    const children: DagTreeNode[] = [];
    if (record.failure) {
      const actions: Action[] = [{ label: 'Parse again', icon: 'debug-restart', command: { title: 'Parse again', command: 'airflowRuntime.parseFile', arguments: [vscode.Uri.file(file)] } }];
      if (['image-missing', 'image-pull-failed', 'image-build-failed', 'bad-runtime'].includes(record.failure.code)) {
        actions.push({ label: 'Open the runtime file', icon: 'go-to-file', command: { title: 'Open the runtime file', command: 'airflowRuntime.openRuntimeFile', arguments: [vscode.Uri.file(file)] } });
      }
      if (['image-missing', 'image-pull-failed'].includes(record.failure.code)) {
        // an image that cannot be had: another the engine has, or the local emulator for this runtime
        actions.push({ label: 'Pick an image this engine has', icon: 'list-selection', command: { title: 'Pick an image this engine has', command: 'airflowRuntime.pickImage', arguments: [vscode.Uri.file(file)] } });
      }
      if (['engine-unreachable', 'image-missing', 'image-pull-failed'].includes(record.failure.code)) {
        actions.push({ label: 'Use the local runtime emulator', icon: 'vm', command: { title: 'Use the local runtime emulator', command: 'airflowRuntime.useLocalEngine' } });
      }
      actions.push({ label: 'Show the log', icon: 'output', command: { title: 'Show the log', command: 'airflowRuntime.showLog' } });
      children.push({ kind: 'notice', id: `${file}/failure`, icon: 'warning', label: headline(record.failure.message), detail: whatToDoText(record.failure, 'paragraphs'), actions });
    }
    const result = record.result;
    if (result) {
      result.importErrors.forEach((error, n) => children.push({ kind: 'importError', id: `${file}/error/${n}`, error }));
      result.dags.forEach((dag) => children.push({ kind: 'dag', id: `${file}/dag/${dag.dagId}`, file, dag }));
    }
    return children;
  }
}

/** Task groups and tasks directly inside `group` (null: the DAG's top level), groups first. */
function groupChildren(file: string, dag: DagInfo, group: string | null): DagTreeNode[] {
  const groups = new Set<string>();
  const tasks: DagTreeNode[] = [];
  for (const task of dag.tasks) {
    const taskGroup = task.taskGroup ?? null;
    if (taskGroup === group) tasks.push({ kind: 'task', id: `${file}/dag/${dag.dagId}/task/${task.taskId}`, file, dag, task });
    else if (taskGroup && (group === null || taskGroup.startsWith(`${group}.`))) {
      const rest = group === null ? taskGroup : taskGroup.slice(group.length + 1);
      groups.add(group === null ? rest.split('.')[0] : `${group}.${rest.split('.')[0]}`);
    }
  }
  const groupNodes: DagTreeNode[] = [...groups].sort().map((g) => ({ kind: 'taskGroup', id: `${file}/dag/${dag.dagId}/group/${g}`, file, dag, group: g }));
  return [...groupNodes, ...tasks];
}

/**
 * An image reference for a tree row: whole (`airflow-runtime-test/airflow:2.11.2`, `registry.example.com/team/airflow:2.11.2`),
 * but for the prefix Docker implies (`docker.io/library/python:3.11` → `python:3.11`, `docker.io/apache/airflow` → `apache/airflow`).
 */
export function shortImage(image: string): string {
  return image.replace(/^docker\.io\/(?:library\/(?=[^/]+$))?/, '') || image;
}

/** One line for a tree label: a message's first line, with the lines it announces (`Tried:`) folded in. */
function headline(message: string): string {
  const [first = '', ...rest] = message.split('\n').map((line) => line.trim()).filter(Boolean);
  return first.endsWith(':') && rest.length ? `${first.slice(0, -1)} ${rest.join('; ')}` : first;
}

export function openAt(file: string, line: number | null): vscode.Command {
  return { title: 'Open', command: 'airflowRuntime.openLocation', arguments: [file, line ?? 1] };
}

function fileTooltip(file: string, state: ParseState, record: DagFileRecord | undefined, runtime: EffectiveRuntime | undefined): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**${path.basename(file)}**: ${STATE_WORDS[state]}`);
  if (runtime?.values.image) md.appendMarkdown(`\n\nImage \`${runtime.values.image}\``);
  const result = record?.result;
  if (result) md.appendMarkdown(` · Airflow ${result.airflowVersion}, Python ${result.pythonVersion}${result.engine ? `, ${result.engine.kind}` : ''}`);
  if (record?.failure) md.appendMarkdown(`\n\n${whatToDoText(record.failure, 'paragraphs')}`);
  if (runtime) {
    // a list, not a table: a narrow sidebar squeezes a table's last column to nothing
    md.appendMarkdown('\n\n**Runtime**, and where each value comes from:\n');
    for (const [key, source] of Object.entries(runtime.sources).sort(([a], [b]) => a.localeCompare(b))) {
      const value = valueAt(runtime, key);
      md.appendMarkdown(`\n- \`${key}\`${value === undefined ? '' : `: ${cell(value)}`}  \n  *from ${cell(describeSource(source, (f) => vscode.workspace.asRelativePath(f)))}*`);
    }
    md.appendMarkdown('\n');
    if (runtime.problems.length) md.appendMarkdown(`\n${runtime.problems.length} problem(s) in the runtime files: see Problems.`);
  }
  return md;
}

/** A value for the hover: Variables and Connections by name only, other secrets (in `env`) as `***`. */
function valueAt(runtime: EffectiveRuntime, key: string): string | undefined {
  if (/^(variables|connections)\./.test(key)) return undefined;
  let value: unknown = redactedValues(runtime.values);
  for (const part of key.split('.')) value = (value as Record<string, unknown> | undefined)?.[part];
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 120);
}

function noticeItem(node: DagTreeNode & { kind: 'notice' }): vscode.TreeItem {
  const item = new vscode.TreeItem(node.label, node.actions.length ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
  item.iconPath = new vscode.ThemeIcon(node.icon, new vscode.ThemeColor(node.icon === 'error' ? 'errorForeground' : 'list.warningForeground'));
  item.tooltip = node.detail ? `${node.label}\n\n${node.detail}` : node.label;
  item.description = node.detail?.split('\n')[0];
  item.contextValue = 'notice';
  return item;
}

function actionItem(node: DagTreeNode & { kind: 'action' }): vscode.TreeItem {
  const item = new vscode.TreeItem(node.action.label);
  item.iconPath = new vscode.ThemeIcon(node.action.icon);
  item.command = node.action.command;
  item.contextValue = 'action';
  return item;
}

function folderItem(node: DagTreeNode & { kind: 'folder' }): vscode.TreeItem {
  const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.Expanded);
  item.iconPath = vscode.ThemeIcon.Folder;
  item.resourceUri = vscode.Uri.file(node.folder);
  item.contextValue = 'folder';
  item.id = node.id;
  return item;
}

function importErrorItem(node: DagTreeNode & { kind: 'importError' }): vscode.TreeItem {
  const item = new vscode.TreeItem(node.error.message.split('\n')[0]);
  item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'));
  item.description = `${path.basename(node.error.file)}:${node.error.line ?? 1}`;
  item.tooltip = node.error.traceback ? withoutHarnessFrames(node.error.traceback) : node.error.message;
  item.command = openAt(node.error.file, node.error.line);
  item.contextValue = 'importError';
  return item;
}

function dagItem(node: DagTreeNode & { kind: 'dag' }): vscode.TreeItem {
  const item = new vscode.TreeItem(node.dag.dagId, vscode.TreeItemCollapsibleState.Collapsed);
  item.iconPath = new vscode.ThemeIcon('type-hierarchy-sub');
  item.description = [node.dag.schedule ?? 'no schedule', ...node.dag.tags.map((t) => `#${t}`)].join('  ');
  item.tooltip = `DAG ${node.dag.dagId}: ${node.dag.tasks.length} task(s), schedule ${node.dag.schedule ?? 'none'}`;
  item.command = openAt(node.dag.file ?? node.file, node.dag.line);
  item.contextValue = 'dag';
  item.id = node.id;
  return item;
}

function taskGroupItem(node: DagTreeNode & { kind: 'taskGroup' }): vscode.TreeItem {
  const item = new vscode.TreeItem(node.group.split('.').pop()!, vscode.TreeItemCollapsibleState.Expanded);
  item.iconPath = new vscode.ThemeIcon('folder-library');
  item.description = 'task group';
  item.contextValue = 'taskGroup';
  item.id = node.id;
  return item;
}

function taskItem(node: DagTreeNode & { kind: 'task' }): vscode.TreeItem {
  const short = node.task.taskGroup && node.task.taskId.startsWith(`${node.task.taskGroup}.`) ? node.task.taskId.slice(node.task.taskGroup.length + 1) : node.task.taskId;
  const item = new vscode.TreeItem(short);
  item.iconPath = new vscode.ThemeIcon(node.task.mapped ? 'layers' : 'symbol-method');
  const operator = operatorLabel(node.task);
  const mapped = node.task.mapped ? ` (mapped${node.task.mapCount ? ` ×${node.task.mapCount}` : ''})` : '';
  item.description = `${operator}${mapped}`;
  item.tooltip = `${node.task.taskId}: ${operator}${operator !== node.task.operator ? ` (${node.task.operator})` : ''}${mapped}\nupstream: ${node.task.upstream.join(', ') || 'none'}\ndownstream: ${node.task.downstream.join(', ') || 'none'}`;
  item.command = openAt(node.task.file ?? node.file, node.task.line);
  item.contextValue = 'task';
  item.id = node.id;
  return item;
}
