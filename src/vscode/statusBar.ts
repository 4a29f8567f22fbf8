import * as vscode from 'vscode';
import type { Project } from './project';
import { readSettings } from './settings';
import type { SlowWork } from './slowWork';

/** What the status bar shows, for the extension's tests. */
export interface StatusBarView {
  text(): string;
  command(): string | undefined;
}

/** One status bar item, shown in Airflow workspaces only: the engine, the work going on, and a click to cancel it. */
export function registerStatusBar(context: vscode.ExtensionContext, project: Project, slowWork: SlowWork): StatusBarView {
  const item = vscode.window.createStatusBarItem('airflowRuntime.status', vscode.StatusBarAlignment.Left, 50);
  item.name = 'Airflow Runtime';

  const render = () => {
    const states = project.parser.states;
    const parsing = states.files.filter((file) => states.get(file)?.parsing).length;
    const runs = project.taskRuns.current;
    const status = project.session.status;
    const engine = status.state === 'ready' ? status.kind : status.state === 'failed' ? 'no engine' : status.state === 'connecting' ? 'connecting…' : readSettings().engine.choice;
    if (parsing > 0 || runs.length > 0) {
      // a pull, a build or a runtime starting takes long: say what the parses wait for
      const waiting = slowWork.current();
      const longWork = waiting && waiting.length > 60 ? `${waiting.slice(0, 57)}…` : waiting;
      const work = [
        runs.length === 1 ? `running ${runs[0].label}` : runs.length > 1 ? `running ${runs.length} tasks` : undefined,
        parsing > 0 ? longWork ?? `parsing ${parsing} file${parsing === 1 ? '' : 's'}` : undefined,
      ].filter(Boolean).join(', ');
      item.text = `$(sync~spin) Airflow: ${work}`;
      item.tooltip = `${[...runs.map((r) => `running ${r.label}`), parsing ? `parsing ${parsing} file(s)` : ''].filter(Boolean).join('\n')}\n\nClick to cancel`;
      item.command = { title: 'Cancel', command: 'airflowRuntime.cancelWork' };
      item.backgroundColor = undefined;
    } else {
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
      project.taskRuns.cancelAll();
      project.log.info('cancelled by the user');
    }),
    project.parser.states.onDidChange(render),
    project.taskRuns.onDidChange(render),
    project.session.onDidChange(render),
    slowWork.onDidChange(render),
  );
  render();
  return { text: () => item.text, command: () => (typeof item.command === 'string' ? item.command : item.command?.command) };
}
