import * as vscode from 'vscode';
import type { Project } from './project';
import { readSettings } from './settings';

/**
 * "Show Graph" and "Run DAG" above each DAG (airflowRuntime.dagCodeLens), and optional "Run task", "Debug" and "Rendered"
 * lenses above each task (airflowRuntime.codeLens); runs go through the Testing API like the gutter.
 */
export function registerTaskCodeLens(context: vscode.ExtensionContext, project: Project): void {
  const changed = new vscode.EventEmitter<void>();
  context.subscriptions.push(
    changed,
    project.onDidParse(() => changed.fire()),
    vscode.workspace.onDidChangeConfiguration((event) => { if (event.affectsConfiguration('airflowRuntime.codeLens') || event.affectsConfiguration('airflowRuntime.dagCodeLens')) changed.fire(); }),
    vscode.languages.registerCodeLensProvider({ language: 'python', scheme: 'file' }, {
      onDidChangeCodeLenses: changed.event,
      provideCodeLenses(document) {
        const { codeLens, dagCodeLens } = readSettings();
        const result = project.parser.states.get(document.uri.fsPath)?.result;
        if (!result) return [];
        const dagLenses = !dagCodeLens ? [] : result.dags.filter((dag) => dag.line && (dag.file ?? document.uri.fsPath) === document.uri.fsPath).flatMap((dag) => {
          const range = new vscode.Range(dag.line! - 1, 0, dag.line! - 1, 0);
          const ids = { file: document.uri.fsPath, dagId: dag.dagId };
          return [
            new vscode.CodeLens(range, { title: '$(type-hierarchy) Show Graph', command: 'airflowRuntime.showGraph', arguments: [ids] }),
            new vscode.CodeLens(range, { title: `$(run-all) Run ${dag.dagId}`, command: 'airflowRuntime.runDag', arguments: [ids] }),
          ];
        });
        if (!codeLens) return dagLenses;
        return dagLenses.concat(result.dags.flatMap((dag) => dag.tasks.filter((task) => task.line && (task.file ?? document.uri.fsPath) === document.uri.fsPath).flatMap((task) => {
          const range = new vscode.Range(task.line! - 1, 0, task.line! - 1, 0);
          const name = `${dag.tasks.length > 1 || result.dags.length > 1 ? `${dag.dagId}.` : ''}${task.taskId}`;
          const ids = { file: document.uri.fsPath, dagId: dag.dagId, taskId: task.taskId };
          return [
            new vscode.CodeLens(range, { title: `$(play) Run ${name}`, command: 'airflowRuntime.runTask', arguments: [ids] }),
            new vscode.CodeLens(range, { title: '$(debug-alt) Debug', command: 'airflowRuntime.debugTask', arguments: [ids] }),
            new vscode.CodeLens(range, { title: '$(file-code) Rendered', command: 'airflowRuntime.showRenderedTemplate', arguments: [ids], tooltip: 'Show Rendered Template: its templated fields for a logical date' }),
          ];
        })));
      },
    }),
  );
}
