import * as path from 'node:path';
import * as vscode from 'vscode';
import { isCancelled } from '../core/engine/errors';
import type { RenderOutcome } from '../core/engine/types';
import { logicalDateProblem, today } from '../core/engine/runInputs';
import { type LocatedLine, locatedLineOf } from '../core/harness/locatedLine';
import { type RenderSubject, renderedDocument, taskName, templateFailureMessage } from '../core/project/renderedTemplate';
import { dagKey } from '../core/project/itemKeys';
import type { Project } from './project';
import type { MapIndexPicker } from './testing';

export const RENDERED_SCHEME = 'airflow-runtime-rendered';

/** What Show Rendered Template did: the document it opened, the template that failed, or where the DAG file did not load; nothing when the person gave up. */
export interface RenderShown {
  uri?: vscode.Uri;
  outcome?: RenderOutcome;
  notLoaded?: LocatedLine;
}

/** Read-only documents of rendered templates, kept for the session (each render replaces its own). */
export class RenderedTemplateDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  dispose(): void {
    this.changed.dispose();
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? 'Render this task again: its rendered templates are kept only while the window is open.\n';
  }

  /** `airflow-runtime-rendered:/dags/etl.py extract (rendered 2024-01-01).md`: the tab says which task and date. */
  show(subject: RenderSubject, text: string): vscode.Uri {
    const index = subject.mapIndex !== undefined ? `[${subject.mapIndex}]` : '';
    const uri = vscode.Uri.from({ scheme: RENDERED_SCHEME, path: `/${vscode.workspace.asRelativePath(subject.dagFile)} ${subject.taskId}${index} (rendered ${subject.date}).md`, query: dagKey(subject.dagFile, subject.dagId) });
    this.texts.set(uri.toString(), text);
    this.changed.fire(uri);
    return uri;
  }
}

/**
 * Show Rendered Template: asks for the logical date (today by default) unless given, renders the task's templated
 * fields in its runtime with a cancellable progress notification, and opens them read-only; a template that does
 * not render is a message that names the field and offers the task's line.
 */
export async function showRenderedTemplate(project: Project, documents: RenderedTemplateDocuments, pickMapIndex: MapIndexPicker,
  ids: { file: string; dagId: string; taskId: string }, given: { date?: string; mapIndex?: number }): Promise<RenderShown> {
  if (project.refuseUntrusted('Rendering templates')) return {};
  const date = given.date ?? await vscode.window.showInputBox({
    title: `Render ${ids.dagId}.${ids.taskId}: which logical date?`, value: today(), prompt: 'YYYY-MM-DD: the templates see it as {{ ds }}, {{ logical_date }}…',
    validateInput: (value) => logicalDateProblem(value.trim()),
  });
  if (date === undefined) return {};
  const problem = logicalDateProblem(date.trim());
  if (problem) throw new Error(`${problem}: give the logical date as YYYY-MM-DD`);
  const task = project.parser.states.get(ids.file)?.result?.dags.find((d) => d.dagId === ids.dagId)?.tasks.find((t) => t.taskId === ids.taskId);
  const mapIndex = given.mapIndex ?? (task?.mapped ? await pickMapIndex(task, ids.dagId) : undefined);
  if (task?.mapped && mapIndex === undefined) return {};
  const subject: RenderSubject = { dagFile: ids.file, dagId: ids.dagId, taskId: ids.taskId, date: date.trim(), mapIndex };

  const runtime = project.runtimes.runtimeOf(ids.file);
  const controller = new AbortController();
  const ended = project.taskRuns.begin({ label: `rendering ${taskName(subject)}`, cancel: () => controller.abort() });
  let rendered: { outcome: RenderOutcome; where: string };
  let notLoaded: LocatedLine | undefined; // the harness says where the DAG file failed to load

  try {
    rendered = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Airflow: rendering ${taskName(subject)} for ${subject.date}`, cancellable: true }, async (progress, token) => {
      token.onCancellationRequested(() => controller.abort());
      const { engine } = await project.session.engine();
      const where = engine.kind === 'docker' ? runtime.values.image ?? 'its image' : 'the local runtime emulator';
      return {
        where, outcome: await engine.render({
          ...subject, runtime, signal: controller.signal,
          onProgress: (event) => progress.report({ message: event.message }),
          onLog: (line) => {
            if (line.trim()) project.log.debug(line);
            notLoaded = locatedLineOf(line) ?? notLoaded;
          },
        }),
      };
    });
  } catch (error) {
    if (isCancelled(error, controller.signal)) return {};
    throw error;
  } finally {
    ended();
  }
  const { outcome, where } = rendered;
  if (outcome.failure) {
    project.log.warn(templateFailureMessage(subject, outcome.failure));
    void vscode.window.showErrorMessage(`Airflow: ${templateFailureMessage(subject, outcome.failure)}. Fix the template in ${path.basename(ids.file)} and render again.`, 'Open the Task')
      .then((choice) => choice && vscode.commands.executeCommand('airflowRuntime.openLocation', task?.file ?? ids.file, task?.line ?? 1));
    return { outcome };
  }
  if (outcome.exitCode !== 0) return showNotLoaded(project, subject, notLoaded, outcome);
  const uri = documents.show(subject, renderedDocument(subject, outcome, where));
  await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri), { preview: true });
  return { uri, outcome };
}

/** The DAG file did not load, so nothing rendered: its error, at its line, instead of an empty document. */
function showNotLoaded(project: Project, subject: RenderSubject, located: LocatedLine | undefined, outcome: RenderOutcome): RenderShown {
  const where = located ? `${path.basename(located.file)}:${located.line}: ${located.message}` : 'its error is in the log';
  const text = `Airflow: ${taskName(subject)} did not render: ${path.basename(subject.dagFile)} did not load (${where}). Fix it, save, and render again.`;
  project.log.warn(text);
  const open = located ? 'Open the Error' : 'Show Log';
  void vscode.window.showErrorMessage(text, open).then((choice) => {
    if (choice && located) void vscode.commands.executeCommand('airflowRuntime.openLocation', located.file, located.line);
    else if (choice) project.log.show();
  });
  return { outcome, notLoaded: located };
}
