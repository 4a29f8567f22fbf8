import * as vscode from 'vscode';
import { isRuntimeFile, modifiedAt, type Project } from './project';
import { readSettings } from './settings';

/** Opening files (a burst when a folder opens) waits for quiet; a save is parsed at once (repeats coalesce). */
const OPEN_DEBOUNCE_MS = 300;

/**
 * Keeps the project in step with the workspace: new, changed, deleted and renamed DAG files; runtime files;
 * settings; parse on save (and on open, for a file not parsed yet), debounced, trusted workspaces only.
 */
export function registerDagFileEvents(context: vscode.ExtensionContext, project: Project, onDagFilePaths: (paths: string[]) => void): void {
  const autoParse = (document: vscode.TextDocument, onOpen: boolean) => {
    const file = document.uri.fsPath;
    if (document.uri.scheme !== 'file' || !project.isDagFile(file) || !project.isTrusted || !readSettings().parseOnSave) return;
    const record = project.parser.states.get(file);
    if (onOpen && (record?.result || record?.failure) && !record.stale) return;
    void project.parser.parse(file, onOpen ? OPEN_DEBOUNCE_MS : 0);
  };
  const python = vscode.workspace.createFileSystemWatcher('**/*.py');
  const airflowIgnore = vscode.workspace.createFileSystemWatcher('**/.airflowignore');
  context.subscriptions.push(
    python,
    airflowIgnore,
    airflowIgnore.onDidCreate(() => project.airflowIgnoreChanged()),
    airflowIgnore.onDidChange(() => project.airflowIgnoreChanged()),
    airflowIgnore.onDidDelete(() => project.airflowIgnoreChanged()),
    python.onDidCreate((uri) => void project.reconsider(uri.fsPath)),
    python.onDidChange((uri) => {
      project.parser.states.markStale([uri.fsPath], modifiedAt(uri.fsPath));
      void project.reconsider(uri.fsPath);
    }),
    python.onDidDelete((uri) => project.forget(uri.fsPath)),
    // Deleted in the editor (explorer, refactorings): known at once, without waiting for the file watcher.
    vscode.workspace.onDidDeleteFiles((event) => event.files.forEach((uri) => project.forget(uri.fsPath))),
    vscode.workspace.onDidRenameFiles((event) => event.files.forEach(({ oldUri, newUri }) => {
      project.forget(oldUri.fsPath);
      void project.reconsider(newUri.fsPath);
    })),
    vscode.workspace.onDidSaveTextDocument((document) => {
      if (isRuntimeFile(document.uri)) return project.runtimesChanged(document.uri.fsPath);
      autoParse(document, false);
    }),
    vscode.workspace.onDidOpenTextDocument((document) => autoParse(document, true)),
    vscode.window.onDidChangeActiveTextEditor((editor) => { if (editor) autoParse(editor.document, true); }),
    vscode.workspace.onDidChangeConfiguration((event) => project.configurationChanged(event)),
    vscode.workspace.onDidGrantWorkspaceTrust(() => vscode.workspace.textDocuments.forEach((d) => autoParse(d, true))),
    project.parser.states.onDidChange(() => onDagFilePaths(project.parser.states.files)),
  );
  // Not awaited: the scan reads files, and activation waits for nothing slow.
  void project.scan().then(() => vscode.workspace.textDocuments.forEach((d) => autoParse(d, true)));
}

