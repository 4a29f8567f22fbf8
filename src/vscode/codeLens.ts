import * as vscode from 'vscode';
import type { Project } from './project';
import { readSettings } from './settings';

/** Optional "Run task", "Debug" and "Rendered" lenses above each task (airflowRuntime.codeLens); it runs through the Testing API like the gutter. */
export function registerTaskCodeLens(context: vscode.ExtensionContext, project: Project): void {
  const changed = new vscode.EventEmitter<void>();
  context.subscriptions.push(
    changed,
    project.onDidParse(() => changed.fire()),
    vscode.workspace.onDidChangeConfiguration((event) => { if (event.affectsConfiguration('airflowRuntime.codeLens')) changed.fire(); }),
    vscode.languages.registerCodeLensProvider({ language: 'python', scheme: 'file' }, {
      onDidChangeCodeLenses: changed.event,
      provideCodeLenses(document) {
        if (!readSettings().codeLens) return [];
        const result = project.parser.states.get(document.uri.fsPath)?.result;
        if (!result) return [];
        return result.dags.flatMap((dag) => dag.tasks.filter((task) => task.line && (task.file ?? document.uri.fsPath) === document.uri.fsPath).flatMap((task) => {
          const range = new vscode.Range(task.line! - 1, 0, task.line! - 1, 0);
          const name = `${dag.tasks.length > 1 || result.dags.length > 1 ? `${dag.dagId}.` : ''}${task.taskId}`;
          const ids = { file: document.uri.fsPath, dagId: dag.dagId, taskId: task.taskId };
          return [
            new vscode.CodeLens(range, { title: `$(play) Run ${name}`, command: 'airflowRuntime.runTask', arguments: [ids] }),
            new vscode.CodeLens(range, { title: '$(debug-alt) Debug', command: 'airflowRuntime.debugTask', arguments: [ids] }),
            new vscode.CodeLens(range, { title: '$(file-code) Rendered', command: 'airflowRuntime.showRenderedTemplate', arguments: [ids], tooltip: 'Show Rendered Template: its templated fields for a logical date' }),
          ];
        }));
      },
    }),
  );
}
