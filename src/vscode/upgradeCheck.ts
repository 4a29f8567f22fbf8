import * as path from 'node:path';
import * as vscode from 'vscode';
import { defaultJobs } from '../core/engine/capacity';
import { describeFailure } from '../core/engine/errors';
import { hasErrors } from '../core/problems';
import { type DagShape, staticFindingText } from '../core/upgrade/compare';
import { checkUpgrade, type FileUpgrade, imageTarget, runtimeFileTarget, type UpgradeReport, type UpgradeTarget } from '../core/upgrade/check';
import type { RuffEdit, StaticFinding } from '../core/upgrade/ruff';
import type { DagTreeNode } from './dagTree';
import { pickEngineImage } from './engineImages';
import type { Project } from './project';
import { userHostAccess } from './settings';

/** The Problems source of the upgrade check: its own collection, replaced whole by each check, cleared by a command. */
export const UPGRADE_SOURCE = 'airflow upgrade';
const REPORT_SCHEME = 'airflow-upgrade';

/** What the command is told to check against, by a caller that knows (a test, another command). */
export type UpgradeTargetArg = { image: string } | { runtimeFile: string };

/**
 * *Airflow: Check Upgrade to…*: every DAG file of the workspace (or of a folder of the DAG Files view) parsed in its
 * runtime and with the target applied (core/upgrade), findings in Problems with ruff's fixes as quick fixes, and a
 * report document of the changes per file. *Airflow: Clear Upgrade Check* empties both.
 */
export function registerUpgradeCheck(context: vscode.ExtensionContext, project: Project): UpgradeChecks {
  const checks = new UpgradeChecks(project);
  context.subscriptions.push(
    checks,
    vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, checks),
    vscode.languages.registerCodeActionsProvider({ scheme: 'file', pattern: '**/*.py' }, { provideCodeActions: (document, range, ctx) => checks.fixesFor(document, range, ctx) }, { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] }),
    vscode.commands.registerCommand('airflowRuntime.checkUpgrade', async (where?: vscode.Uri | DagTreeNode, to?: UpgradeTargetArg) => {
      try {
        return await checks.run(where, to);
      } catch (error) {
        // an engine that cannot be had, a runtime that does not start: said with its words, never lost
        const text = describeFailure(error);
        project.log.error(`airflowRuntime.checkUpgrade: ${text}`);
        void vscode.window.showErrorMessage(`Airflow: the upgrade check failed: ${text}`, 'Show Log').then((choice) => choice && project.log.show());
        return undefined;
      }
    }),
    vscode.commands.registerCommand('airflowRuntime.clearUpgradeCheck', () => checks.clear()),
    // findings of a file that is gone would point nowhere
    vscode.workspace.onDidDeleteFiles(({ files }) => checks.forget(files)),
    vscode.workspace.onDidRenameFiles(({ files }) => checks.forget(files.map((f) => f.oldUri))),
    // ruff's edits are at the places the check saw: once a file changes they would write in the wrong place
    vscode.workspace.onDidChangeTextDocument(({ document, contentChanges }) => { if (contentChanges.length) checks.edited(document.uri); }),
  );
  return checks;
}

export class UpgradeChecks implements vscode.Disposable, vscode.TextDocumentContentProvider {
  private readonly diagnostics = vscode.languages.createDiagnosticCollection(UPGRADE_SOURCE);
  /** ruff's finding behind each diagnostic (by file, place and words: the host hands back copies), for its quick fix. */
  private readonly fixes = new Map<string, StaticFinding>();
  private report?: UpgradeReport;
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly project: Project) {}

  /** The check, from the command: the target asked for unless given; the report opened beside. Undefined when not run. */
  async run(where?: vscode.Uri | DagTreeNode, to?: UpgradeTargetArg): Promise<UpgradeReport | undefined> {
    if (this.project.refuseUntrusted('Checking an upgrade')) return undefined;
    const folder = where instanceof vscode.Uri ? where.fsPath : where && 'kind' in where && where.kind === 'folder' ? where.folder : undefined;
    await this.project.scan();
    const files = this.project.parser.states.files.filter((file) => !folder || file === folder || file.startsWith(folder + path.sep));
    if (!files.length) return void vscode.window.showInformationMessage(`Airflow: no DAG files${folder ? ` in ${vscode.workspace.asRelativePath(folder)}` : ''} to check.`);
    const target = await this.targetOf(to, files[0]);
    if (!target) return undefined;
    if (hasErrors(target.problems)) {
      return void vscode.window.showErrorMessage(`Airflow: ${vscode.workspace.asRelativePath(target.label)} has errors (${target.problems[0].message}): fix them, then check again.`);
    }
    const cancel = new AbortController();
    const report = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Airflow: checking ${files.length} DAG file${files.length === 1 ? '' : 's'} on ${target.label}`, cancellable: true }, async (progress, token) => {
      token.onCancellationRequested(() => cancel.abort());
      const { engine } = await this.project.session.engine();
      return checkUpgrade(files, {
        engine, target, jobs: defaultJobs(), signal: cancel.signal,
        runtimeOf: (file) => this.project.runtimes.runtimeOf(file),
        onProgress: (event) => progress.report({ message: event.message.slice(0, 160) }),
        onParsed: (file, side, done, total) => progress.report({ increment: 100 / total, message: `${done}/${total}: ${path.basename(file)} ${side}` }),
      }).catch((error: unknown) => { if (cancel.signal.aborted) return undefined; throw error; });
    });
    // a cancelled check compared some files only: what it found is not what the workspace would do, so nothing is shown
    if (!report || cancel.signal.aborted) return undefined;
    this.show(report);
    const s = report.summary;
    const words = `${s.breaks} break, ${s.changes} change, ${s.unchanged} unchanged${s.notChecked ? `, ${s.notChecked} not checked` : ''}`;
    this.project.log.info(`upgrade check on ${report.target}: ${words}${report.static.error ? `; ruff did not run: ${report.static.error}` : ''}`);
    const say = s.breaks || s.notChecked || report.static.error ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    void say(`Airflow: on ${report.target}: ${words}.${report.static.error ? ` ruff did not run: ${report.static.error}` : ''}`, 'Show Report', 'Clear').then((choice) => {
      if (choice === 'Show Report') void this.openReport();
      if (choice === 'Clear') this.clear();
    });
    await this.openReport();
    return report;
  }

  clear(): void {
    this.diagnostics.clear();
    this.fixes.clear();
    this.report = undefined;
    this.changed.fire(REPORT_URI);
  }

  /** A file changed since the check: its quick fixes are dropped (its findings stay until the next check). */
  edited(uri: vscode.Uri): void {
    const prefix = `${path.resolve(uri.fsPath)}:`;
    for (const key of [...this.fixes.keys()]) if (key.startsWith(prefix)) this.fixes.delete(key);
  }

  forget(uris: readonly vscode.Uri[]): void {
    const gone = (file: vscode.Uri) => uris.some((uri) => file.fsPath === uri.fsPath || file.fsPath.startsWith(uri.fsPath + path.sep));
    for (const file of [...this.diagnostics].map(([uri]) => uri).filter(gone)) this.diagnostics.delete(file);
  }

  async openReport(): Promise<void> {
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(REPORT_URI), { preview: true, preserveFocus: true, viewColumn: vscode.ViewColumn.Beside });
  }

  provideTextDocumentContent(): string {
    return this.report ? reportMarkdown(this.report, (file) => vscode.workspace.asRelativePath(file)) : '# Upgrade check\n\nNo check has run (or it was cleared). Run *Airflow: Check Upgrade to…*.\n';
  }

  /** ruff's fix for each of our diagnostics in the range, as a quick fix (its safe fixes preferred). */
  fixesFor(document: vscode.TextDocument, range: vscode.Range, context: vscode.CodeActionContext): vscode.CodeAction[] {
    const actions: vscode.CodeAction[] = [];
    for (const diagnostic of context.diagnostics) {
      const finding = diagnostic.source === UPGRADE_SOURCE ? this.fixes.get(fixKey(document.uri.fsPath, diagnostic)) : undefined;
      if (!finding?.fix || !diagnostic.range.intersection(range)) continue;
      const action = new vscode.CodeAction(`${finding.fix.message} (ruff ${finding.rule}${finding.fix.applicability === 'safe' ? '' : `, ${finding.fix.applicability} fix: check it`})`, vscode.CodeActionKind.QuickFix);
      action.edit = new vscode.WorkspaceEdit();
      for (const edit of finding.fix.edits) action.edit.replace(document.uri, rangeOfEdit(edit, document), edit.content);
      action.diagnostics = [diagnostic];
      action.isPreferred = finding.fix.applicability === 'safe';
      actions.push(action);
    }
    return actions;
  }

  dispose(): void {
    this.diagnostics.dispose();
    this.changed.dispose();
  }

  private async targetOf(to: UpgradeTargetArg | undefined, someFile: string): Promise<UpgradeTarget | undefined> {
    const root = this.project.workspaceRootOf(someFile);
    if (to && 'image' in to) return imageTarget(to.image, 'the command');
    if (to && 'runtimeFile' in to) return runtimeFileTarget(to.runtimeFile, root, userHostAccess());
    const kind = await vscode.window.showQuickPick([
      { label: 'An image', detail: 'each DAG file\'s runtime with this image in place of its own', value: 'image' as const },
      { label: 'A runtime file', detail: 'merged over each DAG file\'s runtime (a new base image and requirements, say)', value: 'file' as const },
    ], { title: 'Airflow: Check Upgrade to…' });
    if (kind?.value === 'image') {
      const image = await pickEngineImage(this.project.runtimes.runtimeOf(someFile).values.image);
      return image ? imageTarget(image, 'the command') : undefined;
    }
    if (kind?.value === 'file') {
      const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Runtime file': ['yaml', 'yml'] }, defaultUri: vscode.Uri.file(root), openLabel: 'Check against this runtime' });
      return picked?.[0] ? runtimeFileTarget(picked[0].fsPath, root, userHostAccess()) : undefined;
    }
    return undefined;
  }

  private show(report: UpgradeReport): void {
    this.report = report;
    this.diagnostics.clear();
    this.fixes.clear();
    const byFile = new Map<string, vscode.Diagnostic[]>();
    const add = (file: string, diagnostic: vscode.Diagnostic) => byFile.set(file, [...(byFile.get(file) ?? []), diagnostic]);
    const severity = { breaks: vscode.DiagnosticSeverity.Error, warning: vscode.DiagnosticSeverity.Warning, changes: vscode.DiagnosticSeverity.Information };
    for (const file of report.files) {
      if (file.error) add(file.file, withSource(new vscode.Diagnostic(lineRange(null, null), `not checked on ${report.target}: ${file.error.message}`, vscode.DiagnosticSeverity.Error), 'not-checked'));
      for (const finding of file.findings ?? []) add(finding.file, withSource(new vscode.Diagnostic(lineRange(finding.line, finding.column), finding.message, severity[finding.kind]), finding.kind));
      for (const finding of file.static) {
        const diagnostic = withSource(new vscode.Diagnostic(rangeOfEdit(finding), staticFindingText(finding), vscode.DiagnosticSeverity.Warning), finding.rule);
        if (finding.url) diagnostic.code = { value: finding.rule, target: vscode.Uri.parse(finding.url) };
        if (finding.fix) this.fixes.set(fixKey(finding.file, diagnostic), finding);
        add(finding.file, diagnostic);
      }
    }
    for (const [file, list] of byFile) this.diagnostics.set(vscode.Uri.file(file), list);
    this.changed.fire(REPORT_URI);
  }
}

const REPORT_URI = vscode.Uri.from({ scheme: REPORT_SCHEME, path: '/Upgrade check.md' });

function fixKey(file: string, diagnostic: vscode.Diagnostic): string {
  const { start, end } = diagnostic.range;
  return `${path.resolve(file)}:${start.line}:${start.character}:${end.line}:${end.character}:${diagnostic.message}`;
}

function withSource(diagnostic: vscode.Diagnostic, code: string): vscode.Diagnostic {
  diagnostic.source = UPGRADE_SOURCE;
  diagnostic.code = code;
  return diagnostic;
}

function lineRange(line: number | null, column: number | null): vscode.Range {
  const at = new vscode.Position(Math.max(0, (line ?? 1) - 1), Math.max(0, (column ?? 1) - 1));
  return new vscode.Range(at, at.translate(0, 1000));
}

/** ruff's 1-based line and code-point column as the editor's range (UTF-16 columns, read off the document when it is there). */
function rangeOfEdit(edit: Pick<RuffEdit, 'start' | 'end'>, document?: vscode.TextDocument): vscode.Range {
  const at = ({ line, column }: RuffEdit['start']) => {
    const text = document && line - 1 < document.lineCount ? document.lineAt(line - 1).text : undefined;
    return new vscode.Position(line - 1, text === undefined ? column - 1 : [...text].slice(0, column - 1).join('').length);
  };
  return new vscode.Range(at(edit.start), at(edit.end));
}

/** The report document: a summary, then per file its verdict, findings, and DAGs before and after. */
export function reportMarkdown(report: UpgradeReport, show: (file: string) => string): string {
  const s = report.summary;
  const lines = [`# Upgrade check: ${report.target}`, '', `${report.files.length} DAG files: **${s.breaks} break**, ${s.changes} change, ${s.unchanged} unchanged${s.notChecked ? `, ${s.notChecked} not checked` : ''}.`,
    report.static.error ? `ruff did not run: ${report.static.error}` : report.static.rules.length ? `${s.staticFindings} static findings of ${report.static.tool} (${report.static.rules.join(', ')}; it reads the files, never runs them), ${s.safeFixes} with a safe fix.` : 'No ruff rules for this target\'s Airflow.', ''];
  for (const file of report.files) lines.push(...fileSection(file, show));
  return `${lines.join('\n')}\n`;
}

function fileSection(file: FileUpgrade, show: (file: string) => string): string[] {
  const head = `## ${show(file.file)}: ${file.verdict}${file.current && file.target ? ` (${file.current.airflowVersion} → ${file.target.airflowVersion})` : ''}`;
  if (file.error) return [head, '', file.error.message, ''];
  const lines = [head, ''];
  for (const f of file.findings ?? []) lines.push(`- line ${f.line ?? 1}: ${f.kind === 'breaks' ? '**breaks**: ' : ''}${f.message}`);
  for (const s of file.static) lines.push(`- line ${s.start.line}: ${staticFindingText(s)}`);
  if (lines.length > 2) lines.push('');
  const after = new Map((file.after ?? []).map((d) => [d.dagId, d]));
  const ids = [...new Set([...(file.before ?? []).map((d) => d.dagId), ...after.keys()])];
  for (const id of ids) {
    const was = file.before?.find((d) => d.dagId === id);
    lines.push(`### DAG ${id}`, '', '| | before | after |', '|---|---|---|', `| schedule | ${cell(was?.schedule, was)} | ${cell(after.get(id)?.schedule, after.get(id))} |`,
      `| tasks | ${tasksCell(was)} | ${tasksCell(after.get(id))} |`, `| edges | ${was ? was.edges.join(', ') || '(none)' : '(no DAG)'} | ${after.get(id) ? after.get(id)!.edges.join(', ') || '(none)' : '(no DAG)'} |`, '');
  }
  return lines;
}

const cell = (schedule: string | null | undefined, dag: DagShape | undefined) => (dag ? schedule ?? 'none' : '(no DAG)');
const tasksCell = (dag: DagShape | undefined) => (dag ? dag.tasks.map((t) => `${t.taskId} (${t.type})`).join(', ') || '(none)' : '(no DAG)');
