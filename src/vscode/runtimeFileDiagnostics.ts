import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Problem } from '../core/problems';
import { runtimeFileScope } from '../core/runtime/names';
import { readRuntimeFile } from '../core/runtime/read';

/** Validation of runtime files as the user types: one diagnostic collection, replaced per document. */
export function registerRuntimeFileDiagnostics(context: vscode.ExtensionContext): void {
  const diagnostics = vscode.languages.createDiagnosticCollection('airflow-runtime-files');
  const refresh = (document: vscode.TextDocument) => {
    if (document.uri.scheme !== 'file' || !runtimeFileScope(document.fileName)) return;
    const folder = vscode.workspace.getWorkspaceFolder(document.uri);
    const workspaceRoot = folder?.uri.fsPath ?? path.dirname(document.fileName);
    const file = readRuntimeFile(document.fileName, document.getText(), { workspaceRoot });
    diagnostics.set(document.uri, file.problems.map(toDiagnostic));
  };
  context.subscriptions.push(
    diagnostics,
    vscode.workspace.onDidOpenTextDocument(refresh),
    vscode.workspace.onDidChangeTextDocument((event) => refresh(event.document)),
    vscode.workspace.onDidCloseTextDocument((document) => diagnostics.delete(document.uri)),
    vscode.workspace.onDidDeleteFiles((event) => event.files.forEach((uri) => diagnostics.delete(uri))),
  );
  vscode.workspace.textDocuments.forEach(refresh);
}

function toDiagnostic(problem: Problem): vscode.Diagnostic {
  const range = new vscode.Range(problem.start.line - 1, problem.start.column - 1, problem.end.line - 1, problem.end.column - 1);
  const diagnostic = new vscode.Diagnostic(range, problem.message, problem.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
  diagnostic.source = 'airflow-runtime';
  diagnostic.code = problem.code;
  return diagnostic;
}
