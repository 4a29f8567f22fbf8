import * as vscode from 'vscode';
import { registerTaskCodeLens } from './vscode/codeLens';
import { registerCommands } from './vscode/commands';
import { registerDagFileEvents } from './vscode/dagFileEvents';
import { registerDebugging } from './vscode/debugging';
import { DagGraphPanels } from './vscode/graphPanel';
import { DagTree } from './vscode/dagTree';
import { registerLanguageModelTools } from './vscode/languageModelTools';
import { type LocalAirflowView, registerLocalAirflow } from './vscode/localAirflow';
import { registerEngineDiagnostics, registerParseDiagnostics } from './vscode/parseDiagnostics';
import { registerQuickFixes } from './vscode/quickFixes';
import { Project } from './vscode/project';
import { registerRuntimeFileDiagnostics } from './vscode/runtimeFileDiagnostics';
import { registerRuntimeFileEditing } from './vscode/runtimeFileEditing';
import { SlowWork } from './vscode/slowWork';
import { registerStatusBar, type StatusBarView } from './vscode/statusBar';
import { TaskTesting } from './vscode/testing';
import { registerUpgradeCheck } from './vscode/upgradeCheck';

/** What the extension hands to its integration tests (and to other extensions). */
export interface AirflowRuntimeApi {
  project: Project;
  tree: DagTree;
  testing: TaskTesting;
  graphs: DagGraphPanels;
  statusBar: StatusBarView;
  localAirflow: LocalAirflowView;
  /** How long activate() took, in ms (reported by the tests: activation must stay cheap). */
  activationMs: number;
}

/** A flat list of register calls; nothing slow is awaited here (no Docker call, no workspace search). */
let active: Project | undefined;

export function activate(context: vscode.ExtensionContext): AirflowRuntimeApi {
  const started = performance.now();
  const project = (active = new Project());
  const slowWork = new SlowWork(project);
  const tree = new DagTree(project, slowWork);
  const testing = new TaskTesting(project);
  const graphs = new DagGraphPanels(project, context.extensionUri);
  context.subscriptions.push(project, slowWork, tree, testing, graphs, vscode.window.createTreeView('airflowRuntime.dagFiles', { treeDataProvider: tree, showCollapseAll: true }));
  registerRuntimeFileDiagnostics(context, (file, changedAt) => project.runtimesChanged(file, changedAt));
  registerRuntimeFileEditing(context);
  registerParseDiagnostics(context, project);
  registerEngineDiagnostics(context, project);
  registerQuickFixes(context, project);
  registerDebugging(context, (target) => testing.debugTask(target));
  registerCommands(context, { project, tree, testing, graphs });
  const statusBar = registerStatusBar(context, project, slowWork);
  const localAirflow = registerLocalAirflow(context, project);
  registerTaskCodeLens(context, project);
  registerLanguageModelTools(context, project, testing);
  registerUpgradeCheck(context, project);
  registerDagFileEvents(context, project, (paths) => {
    void vscode.commands.executeCommand('setContext', 'airflowRuntime.dagFilePaths', paths);
    void vscode.commands.executeCommand('setContext', 'airflowRuntime.dagFileCount', paths.length);
    void vscode.commands.executeCommand('setContext', 'airflowRuntime.scanned', true);
  });
  project.parser.states.onDidChange((files) => tree.refresh(files));
  project.onDidChangeRuntimes((files) => tree.refresh(files));
  slowWork.onDidChange((files) => tree.refresh(files));
  project.onDidScan(() => tree.refresh());
  project.session.onDidChange(() => tree.refresh());
  context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => tree.refresh()));
  const activationMs = performance.now() - started;
  project.log.info(`activated in ${activationMs.toFixed(1)} ms`);
  return { project, tree, testing, graphs, statusBar, localAirflow, activationMs };
}

/** Waited for by VS Code: warm runtimes and running parses are stopped, so no container or process is left. */
export async function deactivate(): Promise<void> {
  await active?.session.dispose();
  active = undefined;
}
