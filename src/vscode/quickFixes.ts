import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readRuntimeFile } from '../core/runtime/read';
import { distributionFor, missingModuleOf, requiresDistribution } from '../core/runtime/packages';
import type { Project } from './project';
import { RUNTIME_FILE_SELECTOR } from './runtimeFileEditing';
import { userHostAccess } from './settings';

/**
 * Quick fixes: in runtime files, the did-you-mean key and the allowed values of a bad one; on a DAG file's
 * `ModuleNotFoundError`, the runtime file that decides what is installed, and (for `local.requirements`) the
 * requirement added to that file.
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
    const module = diagnostic.source === 'airflow-runtime' ? missingModuleOf(diagnostic.message) : undefined;
    if (!module) continue;
    const runtime = project.runtimes.runtimeOf(dagFile);
    const open = new vscode.CodeAction(`Open the runtime file of ${path.basename(dagFile)} (its image decides what is installed)`, vscode.CodeActionKind.QuickFix);
    open.command = { title: open.title, command: 'airflowRuntime.openRuntimeFile', arguments: [document.uri] };
    open.diagnostics = [diagnostic];
    actions.push(open);
    const requirements = runtime.values.local?.requirements;
    if (!requirements) continue;
    const distribution = distributionFor(module);
    let text = '';
    try {
      text = readFileSync(requirements, 'utf8');
    } catch {
      continue;
    }
    if (requiresDistribution(text, distribution)) continue;
    const add = new vscode.CodeAction(`Add ${distribution} to ${vscode.workspace.asRelativePath(requirements)} (the local runtime's requirements)`, vscode.CodeActionKind.QuickFix);
    add.edit = new vscode.WorkspaceEdit();
    const lines = text.split('\n');
    const end = new vscode.Position(Math.max(0, lines.length - 1), lines[lines.length - 1].length);
    add.edit.insert(vscode.Uri.file(requirements), end, `${text.length && !text.endsWith('\n') ? '\n' : ''}${distribution}\n`);
    add.diagnostics = [diagnostic];
    add.isPreferred = true;
    actions.push(add);
  }
  return actions;
}
