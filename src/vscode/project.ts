import { statSync } from 'node:fs';
import * as path from 'node:path';
import picomatch from 'picomatch';
import * as vscode from 'vscode';
import type { ParseResult } from '../core/harness/parseResult';
import type { ProgressEvent } from '../core/engine/types';
import { EngineSession } from '../core/project/engineSession';
import { RunStates } from '../core/project/runStates';
import { RuntimeIndex, runtimeFingerprint } from '../core/project/runtimeIndex';
import { TaskRuns } from '../core/project/taskRuns';
import { WorkspaceParser } from '../core/project/workspaceParser';
import { dagFilesAffectedBy, runtimeFileScope } from '../core/runtime/names';
import { recordReportedAirflow } from '../core/runtime/reportedAirflow';
import { DagFileJudge, type DagFileRule, dagFileRuleOf, rulePerFolder } from '../core/workspace/dagFiles';
import { affectsRuntimes, readSettings, runtimeSettingsLayer, SECTION, userHostAccess } from './settings';

/**
 * The editor window's view of the workspace: its DAG files, their runtimes, the engine, and the parser.
 * Every VS Code surface (tree, diagnostics, testing, status bar) listens to it and asks it for work.
 */
export class Project implements vscode.Disposable {
  readonly log = vscode.window.createOutputChannel('Airflow Runtime', { log: true });
  readonly runtimes: RuntimeIndex;
  readonly session: EngineSession;
  readonly parser: WorkspaceParser;
  /** Task runs going on (the status bar shows and cancels them). */
  readonly taskRuns = new TaskRuns();
  /** What the runs of each DAG said of its tasks, as they go (the graph view draws it). */
  readonly runStates = new RunStates();
  private readonly parsed = new vscode.EventEmitter<{ file: string; result: ParseResult }>();
  readonly onDidParse = this.parsed.event;
  private readonly progressed = new vscode.EventEmitter<{ file: string; event: ProgressEvent }>();
  readonly onDidProgress = this.progressed.event;
  private readonly runtimesRedrawn = new vscode.EventEmitter<string[]>();
  /** The runtime of these DAG files may read otherwise (image, hover): for the tree. */
  readonly onDidChangeRuntimes = this.runtimesRedrawn.event;
  private readonly scanned = new vscode.EventEmitter<void>();
  /** A search for DAG files ended (the first one decides whether the view says it is still looking). */
  readonly onDidScan = this.scanned.event;
  /** Whether the first search for DAG files has ended. */
  firstScanDone = false;
  private readonly forgotten = new vscode.EventEmitter<string>();
  /** A DAG file left the workspace (deleted, renamed, or no longer a DAG file). */
  readonly onDidForget = this.forgotten.event;
  private scanning?: Promise<void>;
  /** The rule each folder's files were judged by (newJudge), to tell when a runtime's answer changes it. */
  private judgeRules = new Map<string, DagFileRule>();
  /** Airflow's rule for which files are DAG files, with its caches (.airflowignore files, folder runtimes). */
  private judge = this.newJudge();
  private readonly disposables: vscode.Disposable[] = [];

  constructor() {
    this.runtimes = new RuntimeIndex({
      workspaceRootOf: (dagFile) => this.workspaceRootOf(dagFile),
      settings: () => runtimeSettingsLayer(),
      hostAccess: userHostAccess,
    });
    // dockerode is loaded on the first parse, not at activation.
    this.session = new EngineSession(() => readSettings().engine, async (choice, options) => (await import('../core/engine/select')).selectEngine(choice, { ...options, embeddedDefault: readSettings().embeddedDefault, preImport: readSettings().preImport }));
    this.parser = new WorkspaceParser(this.runtimes, this.session, {
      onResult: (file, result) => {
        // what earlier runs said of the file's tasks is of the code as it was (a failed task may be fixed now)
        const startedAt = this.parser.states.get(file)?.startedAt;
        if (startedAt !== undefined) this.runStates.parsed(file, startedAt);
        this.parsed.fire({ file, result });
        // the runtime said which Airflow it is: a file list made on a guess from its tag that the answer changes
        // (another major, another .airflowignore syntax) is made again
        // (the rule the file list was made with, which an answer recorded by the CLI may already contradict)
        const runtime = this.runtimes.peek(file);
        const used = this.judgeRules.get(path.dirname(file));
        if (runtime) recordReportedAirflow(runtime.values, result.airflowVersion);
        const now = runtime && dagFileRuleOf(runtime.values);
        if (used && now && (used.airflowMajor !== now.airflowMajor || used.ignoreSyntax !== now.ignoreSyntax)) {
          this.log.info(`${vscode.workspace.asRelativePath(file)}: its runtime reports Airflow ${result.airflowVersion}: looking for DAG files again`);
          this.judge = this.newJudge();
          void (this.scanning ?? Promise.resolve()).then(() => this.scan());
        }
      },
      onProgress: (file, event) => this.progressed.fire({ file, event }),
      log: (line) => this.log.info(line),
    });
    this.disposables.push(this.log, this.parsed, this.progressed, this.runtimesRedrawn, this.scanned, this.forgotten);
    this.session.onDidChange((status) => {
      if (status.state === 'ready') this.log.info(`engine: ${status.reason}`);
      if (status.state === 'failed') this.log.error(`engine: ${status.error.describe()}`);
    });
  }

  /** The workspace folder a file belongs to (its own folder outside every workspace folder). */
  workspaceRootOf(file: string): string {
    return vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file))?.uri.fsPath ?? path.dirname(file);
  }

  get isTrusted(): boolean {
    return vscode.workspace.isTrusted;
  }

  /** Parse and run execute the DAG's code: refused, with the reason, in restricted mode. */
  refuseUntrusted(what: string): boolean {
    if (vscode.workspace.isTrusted) return false;
    void vscode.window.showWarningMessage(
      `Airflow: ${what} runs the DAG file's code, so it is off in restricted mode. Trust this workspace to ${what.toLowerCase()}.`,
      'Manage Workspace Trust',
    ).then((choice) => { if (choice) void vscode.commands.executeCommand('workbench.trust.manage'); });
    return true;
  }

  /** Finds the DAG files of the workspace (once at a time; later calls wait for the running scan). */
  scan(): Promise<void> {
    this.scanning ??= this.findDagFiles().finally(() => {
      this.scanning = undefined;
      this.firstScanDone = true;
      this.scanned.fire();
    });
    return this.scanning;
  }

  isDagFile(file: string): boolean {
    return !!this.parser.states.get(file);
  }

  /** Called for a created or changed .py file: it may have become (or stopped being) a DAG file. */
  async reconsider(file: string): Promise<void> {
    const is = await this.qualifies(vscode.Uri.file(file));
    if (is) this.parser.states.add(file);
    else if (this.isDagFile(file)) this.forget(file);
  }

  forget(file: string): void {
    if (!this.isDagFile(file)) return;
    this.parser.forget(file);
    this.forgotten.fire(file);
  }

  /**
   * A runtime file (or a runtime setting, with no file) changed on disk: runtimes are resolved again; the DAG
   * files it applies to are redrawn, and those whose runtime really changed are stale and parsed again (when
   * they had been parsed and parse on save is on); the engine retires warm runtimes it must. An edit that
   * changes no value (a comment) parses nothing. Saving and the file watcher both call this: the second
   * call finds nothing changed.
   */
  /** `changedAt`: when the change was made, when it was not to the runtime file itself (its requirements file). */
  runtimesChanged(changedFile?: string, changedAt = changedFile ? modifiedAt(changedFile) : undefined): void {
    const all = this.parser.states.files;
    const affected = changedFile ? dagFilesAffectedBy(changedFile, all) : all;
    const before = new Map(affected.map((file) => [file, runtimeFingerprint(this.runtimes.peek(file))]));
    this.runtimes.forgetAll();
    this.airflowIgnoreChanged(); // the Airflow version or [core] settings may say otherwise now
    const changed = affected.filter((file) => before.get(file) !== runtimeFingerprint(this.runtimes.runtimeOf(file)));
    const parsedBefore = changed.filter((file) => { const record = this.parser.states.get(file); return !!(record?.result || record?.failure); });
    this.parser.states.markStale(changed, changedAt);
    this.runtimesRedrawn.fire(affected);
    if (this.isTrusted && readSettings().parseOnSave) for (const file of parsedBefore) void this.parser.parse(file);
    void this.session.retireWarmRuntimes(changedFile, changedAt).then((stopped) => {
      if (stopped) this.log.info(`stopped ${stopped} warm runtime(s) made from the old ${changedFile ? vscode.workspace.asRelativePath(changedFile) : 'settings'}`);
    });
  }

  /** An .airflowignore (or what the rule depends on) changed: which files are DAG files is decided again. */
  airflowIgnoreChanged(): void {
    this.judge = this.newJudge();
    void this.scan();
  }

  configurationChanged(event: vscode.ConfigurationChangeEvent): void {
    if (!event.affectsConfiguration(SECTION)) return;
    if (affectsRuntimes(event)) this.runtimesChanged();
    if (['engine', 'docker.endpoint', 'warm', 'embeddedDefault', 'parse.preImport'].some((key) => event.affectsConfiguration(`${SECTION}.${key}`))) void this.session.reset();
    if (event.affectsConfiguration(`${SECTION}.dagFiles`)) void this.scan();
  }

  dispose(): void {
    this.parser.dispose();
    this.taskRuns.cancelAll();
    this.taskRuns.dispose();
    this.runStates.dispose();
    void this.session.dispose();
    this.disposables.forEach((d) => d.dispose());
  }

  private async findDagFiles(): Promise<void> {
    const started = Date.now();
    const { include, exclude } = readSettings();
    // The search skips excluded folders when the globs can be joined (ripgrep refuses nested braces);
    // `qualifies` applies every exclude glob anyway.
    const excludeGlob = exclude.length && !exclude.some((glob) => glob.includes('{')) ? `{${exclude.join(',')}}` : undefined;
    const found = new Map<string, vscode.Uri>();
    for (const pattern of include) {
      for (const uri of await vscode.workspace.findFiles(pattern, excludeGlob, 20_000)) found.set(uri.fsPath, uri);
    }
    const files: string[] = [];
    for (const uri of found.values()) if (await this.qualifies(uri)) files.push(uri.fsPath);
    this.parser.states.setFiles(files, started);
    this.log.info(`found ${files.length} DAG file(s) among ${found.size} candidate(s) in ${Date.now() - started} ms`);
  }

  /** Airflow's own rule (core/workspace), then the editor's include and exclude globs on top. */
  private async qualifies(uri: vscode.Uri): Promise<boolean> {
    if (uri.scheme !== 'file' || !uri.fsPath.endsWith('.py') || !vscode.workspace.getWorkspaceFolder(uri)) return false;
    const { include, exclude } = readSettings();
    const relative = vscode.workspace.asRelativePath(uri, false);
    if (!picomatch.isMatch(relative, include, { dot: true }) || picomatch.isMatch(relative, exclude, { dot: true })) return false;
    const verdict = this.judge.verdict(uri.fsPath);
    // A known DAG file that reads empty is being written (a save truncates first): what it says is not known
    // yet. Judged on that, a search or a watcher event dropped it, and the parse of the save under way with it.
    return verdict.isDag || (!!verdict.empty && this.isDagFile(uri.fsPath));
  }

  private newJudge(): DagFileJudge {
    const rules = new Map<string, DagFileRule>();
    this.judgeRules = rules;
    const { safeMode } = readSettings();
    return new DagFileJudge((file) => this.workspaceRootOf(file), rulePerFolder((folder) => {
      const rule = dagFileRuleOf(this.runtimes.runtimeOfFolder(folder).values);
      // the setting can only turn safe mode off, as [core] dag_discovery_safe_mode does
      return safeMode ? rule : { ...rule, safeMode: false };
    }, rules));
  }
}

export function isRuntimeFile(uri: vscode.Uri): boolean {
  return uri.scheme === 'file' && !!runtimeFileScope(uri.fsPath);
}

/** When a file was last written; undefined when it is gone (a deletion is news to everyone). */
export function modifiedAt(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}
