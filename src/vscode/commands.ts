import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { describeFailure } from '../core/engine/errors';
import { dagRunConfProblem, logicalDateProblem, today } from '../core/engine/runInputs';
import { stateOf } from '../core/project/dagFileStates';
import { effectiveRuntimeYaml } from '../core/runtime/describe';
import { dagRuntimeFileFor, FOLDER_RUNTIME_FILE } from '../core/runtime/names';
import { runtimeFileTemplate } from '../core/runtime/template';
import { type DagTree, type DagTreeNode } from './dagTree';
import { attachOnReady } from './debugging';
import { pickEngineImage, setRuntimeImage } from './engineImages';
import type { DagGraphPanels } from './graphPanel';
import type { Project } from './project';
import { SECTION } from './settings';
import { RENDERED_SCHEME, RenderedTemplateDocuments, showRenderedTemplate } from './renderedTemplates';
import type { DagRunInputs, TaskIds, TaskTesting } from './testing';

/** What a command handler works on. */
interface Surfaces {
  project: Project;
  tree: DagTree;
  testing: TaskTesting;
  graphs: DagGraphPanels;
  rendered: RenderedTemplateDocuments;
}

type Handler = (surfaces: Surfaces, ...args: never[]) => unknown;

/** Every command of the extension, by id: each a named handler of a few lines over the project, the tree and the testing face. */
const COMMANDS: Record<string, Handler> = {
  'airflowRuntime.parseFile': parseFile,
  'airflowRuntime.parseAll': parseWorkspace,
  'airflowRuntime.refresh': refresh,
  'airflowRuntime.runTask': runTask,
  'airflowRuntime.debugTask': debugTask,
  'airflowRuntime.debugParse': debugParse,
  'airflowRuntime.showGraph': showGraph,
  'airflowRuntime.runDag': runDag,
  'airflowRuntime.createRuntimeFile': createRuntimeFile,
  'airflowRuntime.openRuntimeFile': openRuntimeFile,
  'airflowRuntime.showEffectiveRuntime': showEffectiveRuntime,
  'airflowRuntime.showRenderedTemplate': showRenderedTemplateOf,
  'airflowRuntime.revealInExplorer': revealInExplorer,
  'airflowRuntime.openLocation': openLocation,
  'airflowRuntime.checkEngine': checkEngine,
  'airflowRuntime.retryEngine': retryEngine,
  'airflowRuntime.useLocalEngine': useLocalEngine,
  'airflowRuntime.pickImage': pickImage,
  'airflowRuntime.openSettings': (_, setting?: string) => vscode.commands.executeCommand('workbench.action.openSettings', typeof setting === 'string' ? setting : SECTION),
  'airflowRuntime.showLog': ({ project }) => project.log.show(),
};

/**
 * Registers every command through one wrapper: a handler that throws is logged and shown with the error's
 * words and a "Show Log" action, never lost in a rejected promise.
 */
export function registerCommands(context: vscode.ExtensionContext, given: Omit<Surfaces, 'rendered'>): void {
  const surfaces: Surfaces = { ...given, rendered: new RenderedTemplateDocuments() };
  const { project } = surfaces;
  context.subscriptions.push(surfaces.rendered,
    vscode.workspace.registerTextDocumentContentProvider(EFFECTIVE_RUNTIME_SCHEME, new EffectiveRuntimeDocuments(project)),
    vscode.workspace.registerTextDocumentContentProvider(RENDERED_SCHEME, surfaces.rendered),
    ...Object.entries(COMMANDS).map(([id, handler]) => vscode.commands.registerCommand(id, async (...args: never[]) => {
      try {
        return await handler(surfaces, ...args);
      } catch (error) {
        const text = describeFailure(error);
        project.log.error(`${id}: ${text}`);
        void vscode.window.showErrorMessage(`Airflow: ${text}`, 'Show Log').then((choice) => choice && project.log.show());
        return undefined;
      }
    })),
  );
}

async function parseFile({ project }: Surfaces, target?: vscode.Uri | DagTreeNode) {
  const file = fileOf(target) ?? vscode.window.activeTextEditor?.document.uri.fsPath;
  if (!file) return void vscode.window.showInformationMessage('Airflow: open a DAG file, or choose one in the DAG Files view, to parse it.');
  if (project.refuseUntrusted('Parsing')) return;
  await vscode.workspace.textDocuments.find((d) => d.uri.fsPath === file && d.isDirty)?.save();
  await project.parser.parse(file);
  const record = project.parser.states.get(file);
  return { state: stateOf(record), result: record?.result, failure: record?.failure };
}

/** Every DAG file of the workspace, found again first, with a notification that counts them and can cancel. */
async function parseWorkspace({ project }: Surfaces) {
  if (project.refuseUntrusted('Parsing')) return;
  await project.scan();
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Airflow: parsing DAG files', cancellable: true }, async (progress, token) => {
    token.onCancellationRequested(() => project.parser.cancelAll());
    const files = project.parser.states.files;
    let done = 0;
    await Promise.all(files.map((file) => project.parser.parse(file).then(() => progress.report({ increment: 100 / files.length, message: `${++done}/${files.length}` }))));
  });
}

async function refresh({ project, tree }: Surfaces) {
  project.runtimesChanged();
  await project.scan();
  tree.refresh();
}

/** A task as a command receives it: a node of the DAG Files view, a Testing view item, or ids (a CodeLens, a test). */
type TaskTarget = DagTreeNode | vscode.TestItem | TaskIds;

function taskIdsOf(target: TaskTarget | undefined, testing: TaskTesting): TaskIds | undefined {
  if (!target) return undefined;
  if ('kind' in target) return target.kind === 'task' ? { file: target.file, dagId: target.dag.dagId, taskId: target.task.taskId } : undefined;
  if ('children' in target) return testing.taskIdsOf(target);
  return target;
}

async function runTask({ testing }: Surfaces, target?: TaskTarget) {
  const ids = taskIdsOf(target, testing);
  const item = ids && testing.taskItem(ids.file, ids.dagId, ids.taskId);
  if (!item) return void vscode.window.showWarningMessage('Airflow: parse the DAG file first, then run one of its tasks.');
  await testing.runItems([item]);
}

async function debugTask({ testing }: Surfaces, target?: TaskTarget) {
  const ids = taskIdsOf(target, testing);
  if (!ids) return void vscode.window.showWarningMessage('Airflow: choose a task to debug (in the DAG Files view, or its gutter icon).');
  await testing.debugTask({ dagFile: ids.file, dagId: ids.dagId, taskId: ids.taskId });
}

/** The task's templated fields for a logical date (asked for unless given), rendered in its runtime and opened read-only. */
async function showRenderedTemplateOf({ project, testing, rendered }: Surfaces, target?: TaskTarget, date?: string, mapIndex?: number) {
  const ids = taskIdsOf(target, testing);
  if (!ids) return void vscode.window.showWarningMessage('Airflow: choose a task to render (in the DAG Files view, the Testing view, or its CodeLens).');
  return showRenderedTemplate(project, rendered, testing.pickMapIndex, ids, { date, mapIndex });
}

/** The DAG file's top-level code under the debugger, in its runtime (a DAG built in loops from a config). */
async function debugParse({ project }: Surfaces, target?: vscode.Uri | DagTreeNode) {
  const file = fileOf(target) ?? vscode.window.activeTextEditor?.document.uri.fsPath;
  if (!file) return void vscode.window.showInformationMessage('Airflow: open a DAG file to debug its parse.');
  if (project.refuseUntrusted('Debugging a parse')) return;
  await vscode.workspace.textDocuments.find((d) => d.uri.fsPath === file && d.isDirty)?.save();
  await project.parser.debugParse(file, (stop) => attachOnReady(`Debug parse of ${path.basename(file)}`, file, stop));
  const record = project.parser.states.get(file);
  return { state: stateOf(record), result: record?.result, failure: record?.failure };
}

/** A DAG a command was invoked on: its tree row, a CodeLens, the graph, or the active editor's file (asked when it has several). */
async function dagOf({ project }: Surfaces, target?: vscode.Uri | DagTreeNode | { file: string; dagId: string }): Promise<{ file: string; dagId: string } | undefined> {
  if (target && 'dagId' in target) return { file: target.file, dagId: target.dagId };
  if (target && 'kind' in target && 'dag' in target) return { file: target.file, dagId: target.dag.dagId };
  const file = fileOf(target as vscode.Uri | DagTreeNode | undefined) ?? vscode.window.activeTextEditor?.document.uri.fsPath;
  if (!file || !project.isDagFile(file)) return void vscode.window.showInformationMessage('Airflow: open a DAG file, or choose a DAG in the DAG Files view.');
  if (!project.parser.states.get(file)?.result) {
    if (project.refuseUntrusted('Parsing')) return;
    await project.parser.parse(file);
  }
  const dags = project.parser.states.get(file)?.result?.dags ?? [];
  if (dags.length === 0) return void vscode.window.showWarningMessage(`Airflow: ${path.basename(file)} defines no DAG in its last parse (see the DAG Files view for why).`);
  const dagId = dags.length === 1 ? dags[0].dagId : (await vscode.window.showQuickPick(dags.map((d) => d.dagId), { placeHolder: `Which DAG of ${path.basename(file)}?` }));
  return dagId ? { file, dagId } : undefined;
}

/** The DAG's graph, in a panel beside the editor. */
async function showGraph(surfaces: Surfaces, target?: vscode.Uri | DagTreeNode | { file: string; dagId: string }) {
  const dag = await dagOf(surfaces, target);
  if (!dag) return;
  await surfaces.graphs.show(dag.file, dag.dagId);
  return dag;
}

/**
 * The whole DAG in its runtime, as dag.test() runs it: the logical date and conf are asked for (or given, by
 * a caller that has them); every task item and the graph follow the run.
 */
async function runDag(surfaces: Surfaces, target?: vscode.Uri | DagTreeNode | { file: string; dagId: string }, given?: DagRunInputs) {
  const { project, testing } = surfaces;
  if (project.refuseUntrusted('Running a DAG')) return;
  const dag = await dagOf(surfaces, target);
  if (!dag) return;
  const inputs = given ?? (await askDagRunInputs(dag.dagId));
  if (!inputs) return;
  if (!(await testing.runDagWith(dag.file, dag.dagId, inputs))) return void vscode.window.showWarningMessage(`Airflow: ${dag.dagId} is not in the last parse of ${path.basename(dag.file)}.`);
  return dag;
}

async function askDagRunInputs(dagId: string): Promise<DagRunInputs | undefined> {
  const date = await vscode.window.showInputBox({
    title: `Run ${dagId}: logical date (1/2)`, value: today(), prompt: 'The run\'s logical date, YYYY-MM-DD ({{ ds }} in templates)',
    validateInput: (value) => logicalDateProblem(value.trim()),
  });
  if (date === undefined) return undefined;
  const conf = await vscode.window.showInputBox({
    title: `Run ${dagId}: conf (2/2)`, value: '{}', prompt: 'The run\'s conf, a JSON object ({{ dag_run.conf }}, params)',
    validateInput: (value) => dagRunConfProblem(value.trim() || '{}'),
  });
  if (conf === undefined) return undefined;
  return { date: date.trim(), conf: conf.trim() || '{}' };
}

async function createRuntimeFile({ project }: Surfaces, target?: vscode.Uri | DagTreeNode) {
  const chosen = target instanceof vscode.Uri ? target.fsPath : target && 'kind' in target ? (target.kind === 'folder' ? target.folder : fileOf(target)) : vscode.window.activeTextEditor?.document.uri.fsPath;
  const place = chosen ?? (await pickFolder());
  if (!place) return;
  const isFolder = existsSync(place) && !place.endsWith('.py');
  const runtimeFile = isFolder ? path.join(place, FOLDER_RUNTIME_FILE) : dagRuntimeFileFor(place);
  const uri = vscode.Uri.file(runtimeFile);
  if (!existsSync(runtimeFile)) {
    const effective = isFolder ? undefined : project.runtimes.runtimeOf(place);
    // Written only because the user asked for it, and never over an existing file.
    await vscode.workspace.fs.writeFile(uri, Buffer.from(runtimeFileTemplate(isFolder ? { folder: place } : { dagFile: place }, effective)));
  }
  await vscode.window.showTextDocument(uri);
  return runtimeFile;
}

async function openRuntimeFile({ project }: Surfaces, target?: vscode.Uri | DagTreeNode) {
  const file = fileOf(target) ?? vscode.window.activeTextEditor?.document.uri.fsPath;
  if (!file) return;
  const files = project.runtimes.runtimeOf(file).files.map((f) => f.path).reverse();
  if (files.length === 0) {
    const create = await vscode.window.showInformationMessage(`No runtime file applies to ${path.basename(file)}: it gets the defaults and settings.`, 'Create Runtime File');
    if (create) await vscode.commands.executeCommand('airflowRuntime.createRuntimeFile', vscode.Uri.file(file));
    return;
  }
  const chosen = files.length === 1 ? files[0] : (await vscode.window.showQuickPick(files.map((f) => ({ label: vscode.workspace.asRelativePath(f), file: f })), { placeHolder: 'Runtime files that apply, most specific first' }))?.file;
  if (chosen) await vscode.window.showTextDocument(vscode.Uri.file(chosen));
  return chosen;
}

/** The same YAML as `airflow-runtime resolve`, in a read-only document named after the DAG file. */
async function showEffectiveRuntime(_: Surfaces, target?: vscode.Uri | DagTreeNode) {
  const file = fileOf(target) ?? vscode.window.activeTextEditor?.document.uri.fsPath;
  if (!file) return;
  const uri = effectiveRuntimeUri(file);
  await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri), { preview: true });
  return uri;
}

async function revealInExplorer(_: Surfaces, target?: DagTreeNode) {
  const file = target?.kind === 'folder' ? target.folder : fileOf(target);
  if (file) await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(file));
}

async function openLocation(_: Surfaces, file: string, line = 1) {
  const position = new vscode.Position(Math.max(0, line - 1), 0);
  await vscode.window.showTextDocument(vscode.Uri.file(file), { selection: new vscode.Range(position, position) });
}

async function checkEngine({ project, tree }: Surfaces) {
  await project.session.reset();
  const selected = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Airflow: looking for an engine…' }, () => project.session.engine().catch(() => undefined));
  tree.refresh();
  if (selected) void vscode.window.showInformationMessage(`Airflow: ${selected.reason}`);
  else void vscode.window.showErrorMessage(`Airflow: ${project.session.status.state === 'failed' ? project.session.status.error.describe() : 'no engine'}`, 'Use the Local Runtime Emulator', 'Open Settings')
    .then((choice) => choice && vscode.commands.executeCommand(choice === 'Open Settings' ? 'airflowRuntime.openSettings' : 'airflowRuntime.useLocalEngine'));
  return project.session.status;
}

async function retryEngine({ project, tree }: Surfaces) {
  await project.session.reset();
  tree.refresh();
  if (project.isTrusted) await Promise.all(project.parser.states.files.filter((f) => project.parser.states.get(f)?.failure).map((f) => project.parser.parse(f)));
}

/**
 * The local runtime emulator for every workspace: the engine is the person's choice (a user setting; a workspace
 * cannot choose a weaker box), said in a notification, and the DAG files parsed so far are parsed again there.
 */
async function useLocalEngine({ project, tree }: Surfaces) {
  await vscode.workspace.getConfiguration(SECTION).update('engine', 'local', vscode.ConfigurationTarget.Global);
  await project.session.reset();
  tree.refresh();
  const files = project.parser.states.files.filter((file) => { const record = project.parser.states.get(file); return !!(record?.result || record?.failure); });
  const again = !project.isTrusted || files.length === 0 ? '' : ` Parsing ${files.length} DAG file${files.length === 1 ? '' : 's'} again there.`;
  const message = `Airflow: DAG files now parse and run on the local runtime emulator: your user setting airflowRuntime.engine is "local" (set it to "auto" to use Docker when it answers).${again}`;
  void vscode.window.showInformationMessage(message, 'Open Settings').then((choice) => choice && vscode.commands.executeCommand('airflowRuntime.openSettings', `${SECTION}.engine`));
  const parsed = project.isTrusted ? files : [];
  // not awaited: a virtualenv may be built first, and the notification and the tree say how it goes
  for (const file of parsed) void project.parser.parse(file);
  return { message, parsing: parsed };
}

/**
 * A runtime whose image cannot be had: one of the engine's images instead (a quick pick, Airflow images first),
 * written where the runtime takes its image from; the save parses its DAG files again. `image` skips the pick.
 */
async function pickImage({ project }: Surfaces, target?: vscode.Uri | DagTreeNode, image?: string) {
  const file = fileOf(target) ?? vscode.window.activeTextEditor?.document.uri.fsPath;
  if (!file) return undefined;
  const chosen = typeof image === 'string' ? image : await pickEngineImage(project.runtimes.runtimeOf(file).values.image);
  if (!chosen) return undefined;
  const written = await setRuntimeImage(project, file, chosen);
  void vscode.window.showInformationMessage(`Airflow: ${vscode.workspace.asRelativePath(written)} now names ${chosen}.`);
  if (project.isTrusted) await project.parser.parse(file);
  return written.fsPath;
}

const EFFECTIVE_RUNTIME_SCHEME = 'airflow-runtime-effective';

/** `airflow-runtime-effective:/dags/etl.py (effective runtime).yaml?<the DAG file>`: the tab's name says what it is. */
function effectiveRuntimeUri(dagFile: string): vscode.Uri {
  return vscode.Uri.from({ scheme: EFFECTIVE_RUNTIME_SCHEME, path: `/${vscode.workspace.asRelativePath(dagFile)} (effective runtime).yaml`, query: dagFile });
}

/** Read-only documents of effective runtimes, redrawn when a runtime file or setting changes. */
class EffectiveRuntimeDocuments implements vscode.TextDocumentContentProvider {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly project: Project) {
    project.onDidChangeRuntimes((files) => files.forEach((file) => this.changed.fire(effectiveRuntimeUri(file))));
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const runtime = this.project.runtimes.runtimeOf(uri.query);
    const show = (f: string) => vscode.workspace.asRelativePath(f);
    const problems = runtime.problems.map((p) => `# ${show(p.file)}:${p.start.line}:${p.start.column}: ${p.severity}: ${p.message}`);
    return [effectiveRuntimeYaml(runtime, show), ...(problems.length ? ['', '# Problems (values with errors were left out):', ...problems] : [])].join('\n') + '\n';
  }
}

/** The DAG file a command was invoked on: an explorer or editor URI, or a node of the DAG Files view. */
function fileOf(target: vscode.Uri | DagTreeNode | undefined): string | undefined {
  if (!target) return undefined;
  if (target instanceof vscode.Uri) return target.fsPath;
  return 'file' in target ? target.file : undefined;
}

async function pickFolder(): Promise<string | undefined> {
  const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Create the runtime file here', defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri });
  return picked?.[0]?.fsPath;
}
