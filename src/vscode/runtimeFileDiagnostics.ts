import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Problem, ProblemCode } from '../core/problems';
import { runtimeFileScope } from '../core/runtime/names';
import { readRuntimeFile, readRuntimeText, unreadableRuntimeFile } from '../core/runtime/read';
import { redHatYamlActive } from './runtimeFileEditing';
import { SECTION, userHostAccess } from './settings';

const RUNTIME_FILES = '**/{airflow-runtime.yaml,*.airflow-runtime.yaml}';

/** What the Red Hat YAML extension already says from the schema: left to it when it is active. */
const SCHEMA_CODES = new Set<ProblemCode>(['yaml-syntax', 'not-a-mapping', 'unknown-key', 'wrong-type', 'bad-value', 'missing-key']);

/**
 * Validation of every runtime file of the workspace: open ones as the user types, the others from disk, so
 * a broken runtime file shows in Problems before anyone opens it. One collection, replaced per file.
 */
export function registerRuntimeFileDiagnostics(context: vscode.ExtensionContext, onChanged: (file: string) => void): void {
  const diagnostics = vscode.languages.createDiagnosticCollection('airflow-runtime-files');
  const show = (uri: vscode.Uri, problems: Problem[]) => {
    const redHat = redHatYamlActive();
    diagnostics.set(uri, problems.filter((p) => !redHat || !SCHEMA_CODES.has(p.code)).map(toDiagnostic));
  };
  const check = (uri: vscode.Uri, text: string) => {
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    const workspaceRoot = folder?.uri.fsPath ?? path.dirname(uri.fsPath);
    show(uri, readRuntimeFile(uri.fsPath, text, { workspaceRoot, hostAccess: userHostAccess() }).problems);
  };
  const checkDocument = (document: vscode.TextDocument) => {
    if (document.uri.scheme === 'file' && runtimeFileScope(document.fileName)) check(document.uri, document.getText());
  };
  const checkDisk = (uri: vscode.Uri) => {
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (open) return checkDocument(open);
    let text: string | undefined;
    try {
      text = readRuntimeText(uri.fsPath);
    } catch (error) {
      return show(uri, unreadableRuntimeFile(uri.fsPath, error).problems); // a folder, unreadable, too big
    }
    if (text === undefined) diagnostics.delete(uri);
    else check(uri, text);
  };
  const watcher = vscode.workspace.createFileSystemWatcher(RUNTIME_FILES);
  context.subscriptions.push(
    diagnostics, watcher,
    vscode.workspace.onDidOpenTextDocument(checkDocument),
    vscode.workspace.onDidChangeTextDocument((event) => checkDocument(event.document)),
    // A closed file keeps its problems: they are still true of what is on disk.
    vscode.workspace.onDidCloseTextDocument((document) => { if (runtimeFileScope(document.fileName)) checkDisk(document.uri); }),
    watcher.onDidCreate((uri) => { checkDisk(uri); onChanged(uri.fsPath); }),
    watcher.onDidChange((uri) => { checkDisk(uri); onChanged(uri.fsPath); }),
    watcher.onDidDelete((uri) => { diagnostics.delete(uri); onChanged(uri.fsPath); }),
    // the user's grant of host access turns refusals into warnings, and back
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(`${SECTION}.allowHostAccess`)) void vscode.workspace.findFiles(RUNTIME_FILES, '**/node_modules/**', 5000).then((uris) => uris.forEach(checkDisk));
    }),
  );
  vscode.workspace.textDocuments.forEach(checkDocument);
  // Not awaited: activation does not wait for a workspace search.
  void vscode.workspace.findFiles(RUNTIME_FILES, '**/node_modules/**', 5000).then((uris) => uris.forEach(checkDisk));
}

function toDiagnostic(problem: Problem): vscode.Diagnostic {
  const range = new vscode.Range(problem.start.line - 1, problem.start.column - 1, problem.end.line - 1, problem.end.column - 1);
  const diagnostic = new vscode.Diagnostic(range, problem.message, problem.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
  diagnostic.source = 'airflow-runtime';
  diagnostic.code = problem.code;
  return diagnostic;
}
