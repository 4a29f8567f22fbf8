import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Problem, ProblemCode } from '../core/problems';
import { runtimeFileScope } from '../core/runtime/names';
import { readRuntimeFile, readRuntimeText, unreadableRuntimeFile } from '../core/runtime/read';
import { dependenciesOf } from '../core/runtime/requirements';
import { modifiedAt } from './project';
import { redHatYamlActive } from './runtimeFileEditing';
import { SECTION, userHostAccess } from './settings';

const RUNTIME_FILES = '**/{airflow-runtime.yaml,*.airflow-runtime.yaml}';

/** What the Red Hat YAML extension already says from the schema: left to it when it is active. */
const SCHEMA_CODES = new Set<ProblemCode>(['yaml-syntax', 'not-a-mapping', 'unknown-key', 'wrong-type', 'bad-value', 'missing-key']);

/**
 * Validation of every runtime file of the workspace: open ones as the user types, the others from disk, so
 * a broken runtime file shows in Problems before anyone opens it. One collection, replaced per file.
 */
export function registerRuntimeFileDiagnostics(context: vscode.ExtensionContext, onChanged: (file: string, changedAt?: number) => void): void {
  const diagnostics = vscode.languages.createDiagnosticCollection('airflow-runtime-files');
  // problems at lines of the files a runtime file names (its requirements), by runtime file: replaced with its own
  const elsewhere = new Map<string, Map<string, Problem[]>>();
  const show = (uri: vscode.Uri, problems: Problem[]) => {
    const redHat = redHatYamlActive();
    const shown = problems.filter((p) => !redHat || !SCHEMA_CODES.has(p.code));
    diagnostics.set(uri, shown.filter((p) => p.file === uri.fsPath).map(toDiagnostic));
    const before = elsewhere.get(uri.fsPath) ?? new Map<string, Problem[]>();
    const after = new Map<string, Problem[]>();
    for (const p of shown) if (p.file !== uri.fsPath) after.set(p.file, [...(after.get(p.file) ?? []), p]);
    elsewhere.set(uri.fsPath, after);
    for (const file of new Set([...before.keys(), ...after.keys()])) {
      diagnostics.set(vscode.Uri.file(file), [...elsewhere.values()].flatMap((byFile) => byFile.get(file) ?? []).map(toDiagnostic));
    }
  };
  // a change of the requirements file dates the runtime file's change: DAG files parsed before it are stale
  const dependencies = new DependencyWatchers((runtimeFile, changed) => { checkDisk(vscode.Uri.file(runtimeFile)); onChanged(runtimeFile, modifiedAt(changed) ?? Date.now()); });
  const check = (uri: vscode.Uri, text: string) => {
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    const workspaceRoot = folder?.uri.fsPath ?? path.dirname(uri.fsPath);
    const file = readRuntimeFile(uri.fsPath, text, { workspaceRoot, hostAccess: userHostAccess() });
    dependencies.track(uri.fsPath, dependenciesOf(file.values, path.dirname(uri.fsPath)));
    show(uri, file.problems);
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
    diagnostics, watcher, dependencies,
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

/**
 * Watches the files runtime files name (`requirements`, `packages`): an edit of one is a change of the runtimes that
 * name it, as an edit of the runtime file is (its DAG files stale, their build made again at the next parse). One
 * watcher of the workspace, its events filtered by name (a watcher per file missed events in a remote window).
 */
class DependencyWatchers implements vscode.Disposable {
  /** Runtime files by the file they name. */
  private readonly namedBy = new Map<string, Set<string>>();
  private readonly watcher = vscode.workspace.createFileSystemWatcher('**/*');
  private readonly subscriptions: vscode.Disposable[];

  constructor(onChanged: (runtimeFile: string, changed: string) => void) {
    const changed = (uri: vscode.Uri) => [...(this.namedBy.get(uri.fsPath) ?? [])].forEach((runtimeFile) => onChanged(runtimeFile, uri.fsPath));
    this.subscriptions = [this.watcher.onDidChange(changed), this.watcher.onDidCreate(changed), this.watcher.onDidDelete(changed)];
  }

  track(runtimeFile: string, files: string[]): void {
    for (const [file, runtimeFiles] of this.namedBy) {
      if (!files.includes(file) && runtimeFiles.delete(runtimeFile) && runtimeFiles.size === 0) this.namedBy.delete(file);
    }
    for (const file of files) this.namedBy.set(file, (this.namedBy.get(file) ?? new Set()).add(runtimeFile));
  }

  dispose(): void {
    this.subscriptions.forEach((s) => s.dispose());
    this.watcher.dispose();
  }
}

function toDiagnostic(problem: Problem): vscode.Diagnostic {
  const range = new vscode.Range(problem.start.line - 1, problem.start.column - 1, problem.end.line - 1, problem.end.column - 1);
  const diagnostic = new vscode.Diagnostic(range, problem.message, problem.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
  diagnostic.source = 'airflow-runtime';
  diagnostic.code = problem.code;
  return diagnostic;
}
