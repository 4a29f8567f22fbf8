import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readRuntimeFile } from '../core/runtime/read';
import { requiresDistribution } from '../core/runtime/packages';
import { distributionToAdd, missingModuleName } from './missingModule';
import type { Project } from './project';
import { RUNTIME_FILE_SELECTOR } from './runtimeFileEditing';
import { userHostAccess } from './settings';

/**
 * Quick fixes: in runtime files, the did-you-mean key and the allowed values of a bad one; on a DAG file's
 * `ModuleNotFoundError`, the runtime file that decides what is installed, and, for a runtime the local emulator
 * runs, the requirement added to its `local.requirements`.
 */
export function registerQuickFixes(context: vscode.ExtensionContext, project: Project): void {
  const kinds = { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] };
  context.subscriptions.push(
    vscode.languages.registerCodeActionsProvider(RUNTIME_FILE_SELECTOR, { provideCodeActions: runtimeFileFixes }, kinds),
    vscode.languages.registerCodeActionsProvider({ scheme: 'file', pattern: '**/*.py' }, { provideCodeActions: (document, _range, ctx) => missingModuleFixes(project, document, ctx) }, kinds),
  );
}

function runtimeFileFixes(document: vscode.TextDocument, range: vscode.Range | vscode.Selection, context: vscode.CodeActionContext): vscode.CodeAction[] {
  const workspaceRoot = vscode.workspace.getWorkspaceFolder(document.uri)?.uri.fsPath ?? path.dirname(document.uri.fsPath);
  const { problems } = readRuntimeFile(document.uri.fsPath, document.getText(), { workspaceRoot, hostAccess: userHostAccess() });
  const actions: vscode.CodeAction[] = [];
  for (const problem of problems) {
    const at = new vscode.Range(problem.start.line - 1, problem.start.column - 1, problem.end.line - 1, problem.end.column - 1);
    if (!problem.replacements || !at.intersection(range)) continue;
    const diagnostics = context.diagnostics.filter((d) => d.range.isEqual(at));
    problem.replacements.slice(0, 8).forEach((replacement, n) => {
      const action = new vscode.CodeAction(`Change to "${replacement}"`, vscode.CodeActionKind.QuickFix);
      action.edit = new vscode.WorkspaceEdit();
      action.edit.replace(document.uri, at, replacement);
      action.diagnostics = diagnostics;
      action.isPreferred = n === 0 && problem.code === 'unknown-key';
      actions.push(action);
    });
  }
  return actions;
}

function missingModuleFixes(project: Project, document: vscode.TextDocument, context: vscode.CodeActionContext): vscode.CodeAction[] {
  const dagFile = document.uri.fsPath;
  if (!project.isDagFile(dagFile)) return [];
  const actions: vscode.CodeAction[] = [];
  for (const diagnostic of context.diagnostics) {
    const missing = diagnostic.source === 'airflow-runtime' ? missingModuleName(diagnostic.message) : undefined;
    if (!missing) continue;
    const runtime = project.runtimes.runtimeOf(dagFile);
    // What the last parse really ran on (the embedded default runs a Docker runtime on the local emulator)
    const status = project.session.status;
    const engine = project.parser.states.get(dagFile)?.result?.engine?.kind ?? (status.state === 'ready' ? status.kind : undefined);
    const add = engine === 'local' ? addRequirementFix(project, dagFile, runtime.values.local?.requirements, missing, diagnostic) : undefined;
    if (add) actions.push(add);
    const open = new vscode.CodeAction(`Open the runtime file of ${path.basename(dagFile)} (${engine === 'local' ? 'its requirements decide' : 'its image decides'} what is installed)`, vscode.CodeActionKind.QuickFix);
    open.command = { title: open.title, command: 'airflowRuntime.openRuntimeFile', arguments: [document.uri] };
    open.diagnostics = [diagnostic];
    open.isPreferred = !add;
    actions.push(open);
  }
  return actions;
}

/**
 * The missing module's distribution added to the local runtime's requirements: only for a runtime that the local
 * emulator runs (on Docker the image decides, and that file is not what runs), and only for a name that pip would
 * install the module from (see missingModule.ts).
 */
function addRequirementFix(project: Project, dagFile: string, requirements: string | undefined, missing: string, diagnostic: vscode.Diagnostic): vscode.CodeAction | undefined {
  if (!requirements) return undefined;
  let text: string;
  try {
    text = readFileSync(requirements, 'utf8');
  } catch {
    return undefined;
  }
  const named = text.split(/\r?\n/).map((line) => /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(line.replace(/#.*/, ''))?.[1]).filter((name): name is string => !!name);
  const pick = distributionToAdd(missing, (top) => isProjectModule(project, dagFile, top), named);
  if (!pick || requiresDistribution(text, pick.distribution)) return undefined;
  const where = vscode.workspace.asRelativePath(requirements);
  const add = new vscode.CodeAction(pick.known
    ? `Add ${pick.distribution} (it provides ${missing}) to ${where}, the local runtime's requirements`
    : `Add ${pick.distribution} to ${where}, the local runtime's requirements`, vscode.CodeActionKind.QuickFix);
  add.edit = new vscode.WorkspaceEdit();
  const lines = text.split('\n');
  const end = new vscode.Position(Math.max(0, lines.length - 1), lines[lines.length - 1].length);
  add.edit.insert(vscode.Uri.file(requirements), end, `${text.length && !text.endsWith('\n') ? '\n' : ''}${pick.distribution}\n`);
  add.diagnostics = [diagnostic];
  add.isPreferred = pick.known;
  return add;
}

/** Whether `name` is a module of the project: beside the DAG file or in a folder above it in the workspace, or on the runtime's pythonPath. */
function isProjectModule(project: Project, dagFile: string, name: string): boolean {
  const root = project.workspaceRootOf(dagFile);
  const folders = [...(project.runtimes.runtimeOf(dagFile).values.pythonPath ?? [])];
  for (let folder = path.dirname(dagFile); ; folder = path.dirname(folder)) {
    folders.push(folder, path.join(folder, 'include'), path.join(folder, 'plugins'));
    if (folder === root || path.dirname(folder) === folder || !folder.startsWith(root)) break;
  }
  return folders.some((folder) => existsSync(path.join(folder, `${name}.py`)) || existsSync(path.join(folder, name, '__init__.py')) || isFolder(path.join(folder, name)));
}

function isFolder(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}
