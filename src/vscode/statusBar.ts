import * as vscode from 'vscode';
import type { Project } from './project';
import { readSettings } from './settings';

/** One status bar item, shown in Airflow workspaces only: the engine, the work going on, and a click to cancel it. */
export function registerStatusBar(context: vscode.ExtensionContext, project: Project): void {
  const item = vscode.window.createStatusBarItem('airflowRuntime.status', vscode.StatusBarAlignment.Left, 50);
  item.name = 'Airflow Runtime';
  let longWork: string | undefined;
  let longWorkTimer: NodeJS.Timeout | undefined;

  const render = () => {
    const states = project.parser.states;
    const parsing = states.files.filter((file) => states.get(file)?.parsing).length;
    const status = project.session.status;
    const engine = status.state === 'ready' ? status.kind : status.state === 'failed' ? 'no engine' : status.state === 'connecting' ? 'connecting…' : readSettings().engine.choice;
    if (parsing > 0) {
      item.text = `$(sync~spin) Airflow: ${longWork ?? `parsing ${parsing} file${parsing === 1 ? '' : 's'}`}`;
      item.tooltip = 'Click to cancel';
      item.command = { title: 'Cancel', command: 'airflowRuntime.cancelWork' };
      item.backgroundColor = undefined;
    } else {
      longWork = undefined;
      item.text = `${status.state === 'failed' ? '$(warning)' : '$(layers)'} Airflow: ${engine}`;
      item.tooltip = status.state === 'ready' ? status.reason : status.state === 'failed' ? status.error.describe() : 'The engine is chosen on the first parse';
      item.command = { title: 'Check the engine', command: 'airflowRuntime.checkEngine' };
      item.backgroundColor = status.state === 'failed' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    }
    if (states.files.length > 0) item.show();
    else item.hide();
  };

  context.subscriptions.push(
    item,
    vscode.commands.registerCommand('airflowRuntime.cancelWork', () => {
      project.parser.cancelAll();
      project.log.info('cancelled by the user');
    }),
    project.parser.states.onDidChange(render),
    project.session.onDidChange(render),
    project.onDidProgress(({ event }) => {
      // Pulls, builds and venvs take long: say what is happening until the parse ends.
      if (['pull', 'build', 'venv', 'migrate'].includes(event.stage)) {
        longWork = event.message.length > 60 ? `${event.message.slice(0, 57)}…` : event.message;
        clearTimeout(longWorkTimer);
        longWorkTimer = setTimeout(render, 100);
      }
    }),
    { dispose: () => clearTimeout(longWorkTimer) },
  );
  render();
}
