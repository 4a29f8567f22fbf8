import * as path from 'node:path';
import * as vscode from 'vscode';
import { EngineError } from '../core/engine/errors';
import { type DagInfo, operatorLabel, type ParseResult, type TaskInfo } from '../core/harness/parseResult';
import type { DagTestRequest, RunOutcome, RunRequest } from '../core/engine/types';
import { dagKey, dagRunKey, taskKey } from '../core/project/itemKeys';
import { type DagRunInputs, runDagItem } from './dagRun';
import type { LaunchTarget } from './debugging';
import type { Project } from './project';
import { type ForeignRun, type MapIndexPicker, pickMapIndex, type RunScope, runTaskItem, type TaskRunReport } from './taskRun';

export type { DagRunInputs } from './dagRun';
export type { MapIndexPicker, TaskRunReport } from './taskRun';

/**
 * What a test item stands for. A DAG is a group (no range, so no gutter icon) of its tasks and of one item for
 * the whole DAG, which has the DAG's line: the DAG line's icon then says what the last whole-DAG run said, never
 * what one task's run said (VS Code gives a parent the worst state of its children).
 */
type ItemData =
  | { kind: 'file'; file: string }
  | { kind: 'dag'; file: string; dag: DagInfo }
  | { kind: 'dagRun'; file: string; dag: DagInfo }
  | { kind: 'task'; file: string; dag: DagInfo; task: TaskInfo };

/** A task, as commands and CodeLenses name it. */
export interface TaskIds {
  file: string;
  dagId: string;
  taskId: string;
}

/** What a run of one item is given besides the item: a launch configuration's, "Run DAG"'s inputs, a tool's hooks. */
interface RunGiven {
  launched?: LaunchTarget;
  dagInputs?: DagRunInputs;
  foreign?: ForeignRun;
}

/**
 * The Testing API face: DAG files, their DAGs and tasks as test items with ranges (the gutter run icons), and a
 * run profile that runs each task in its runtime with the log streamed into the test output.
 */
export class TaskTesting implements vscode.Disposable {
  readonly controller = vscode.tests.createTestController('airflowRuntime', 'Airflow Tasks');
  private readonly data = new WeakMap<vscode.TestItem, ItemData>();
  readonly profile: vscode.TestRunProfile;
  /** The same run under debugpy: VS Code attaches to it and stops at breakpoints in the DAG file and its helpers. */
  readonly debugProfile: vscode.TestRunProfile;
  private readonly ran = new vscode.EventEmitter<TaskRunReport>();
  /** What a run of one item was given besides the item, by its request: two runs of one item never mix them. */
  private readonly givens = new WeakMap<vscode.TestRunRequest, RunGiven>();
  readonly onDidRunTask = this.ran.event;
  /** Asks which map index to run (a quick pick); the extension's tests answer it themselves. */
  pickMapIndex: MapIndexPicker = pickMapIndex;

  constructor(private readonly project: Project) {
    this.controller.resolveHandler = async (item) => {
      if (!item) return this.syncFiles();
      const data = this.data.get(item);
      // Expanding a file that was never parsed parses it (in a trusted workspace: parsing runs its code).
      if (data?.kind === 'file' && !project.parser.states.get(data.file)?.result && project.isTrusted) await project.parser.parse(data.file);
    };
    this.controller.refreshHandler = async () => {
      await project.scan();
      if (project.isTrusted) await project.parser.parseKnownFiles();
    };
    this.profile = this.controller.createRunProfile('Run task in its runtime', vscode.TestRunProfileKind.Run, (request, token) => this.run(request, token), true);
    this.debugProfile = this.controller.createRunProfile('Debug task in its runtime', vscode.TestRunProfileKind.Debug, (request, token) => this.run(request, token, true), true);
    project.parser.states.onDidChange(() => this.syncFiles());
    project.onDidParse(({ file, result }) => this.applyResult(file, result));
  }

  /** The item of a task, for the CodeLens and the tree's run button. */
  taskItem(file: string, dagId: string, taskId: string): vscode.TestItem | undefined {
    return this.dagItem(file, dagId)?.children.get(taskKey(file, dagId, taskId));
  }

  /** The task a Testing view item stands for (its context menu's commands get the item). */
  taskIdsOf(item: vscode.TestItem): TaskIds | undefined {
    const data = this.data.get(item);
    return data?.kind === 'task' ? { file: data.file, dagId: data.dag.dagId, taskId: data.task.taskId } : undefined;
  }

  /** Runs the given items as if from the Testing view (the same code path for gutter, CodeLens and tree). */
  async runItems(items: vscode.TestItem[], token = new vscode.CancellationTokenSource().token, debug = false, given?: RunGiven): Promise<void> {
    const request = new vscode.TestRunRequest(items, undefined, debug ? this.debugProfile : this.profile);
    if (given) this.givens.set(request, given);
    await this.run(request, token, debug);
  }

  /** A launch configuration's task, debugged as the Debug profile does it (the file is parsed first if needed). */
  async debugTask(target: LaunchTarget): Promise<void> {
    if (!this.taskItem(target.dagFile, target.dagId, target.taskId)) await this.project.parser.parse(target.dagFile);
    const item = this.taskItem(target.dagFile, target.dagId, target.taskId);
    if (!item) return void vscode.window.showErrorMessage(`Airflow: no task ${target.dagId}.${target.taskId} in ${vscode.workspace.asRelativePath(target.dagFile)} (parse it to see its tasks).`);
    await this.runItems([item], undefined, true, { launched: target });
  }

  /** The item of a DAG: the group of its tasks and of its whole-DAG item. */
  dagItem(file: string, dagId: string): vscode.TestItem | undefined {
    return this.controller.items.get(file)?.children.get(dagKey(file, dagId));
  }

  /** The item of a DAG's whole run (its line's gutter icon), for "Run DAG" and the graph. */
  dagRunItem(file: string, dagId: string): vscode.TestItem | undefined {
    return this.dagItem(file, dagId)?.children.get(dagRunKey(file, dagId));
  }

  /** "Run DAG": the whole DAG as the Testing view runs it, with the logical date and conf given. */
  async runDagWith(file: string, dagId: string, inputs: DagRunInputs, token?: vscode.CancellationToken): Promise<boolean> {
    const item = this.dagRunItem(file, dagId);
    if (!item) return false;
    await this.runItems([item], token, false, { dagInputs: inputs });
    return true;
  }

  /**
   * An assistant's task run, through the Testing view (its item's result and output, the graph's states) as a
   * person's run goes; undefined when the parse knows no such task (the caller runs it without the editor).
   */
  async runTaskFor(request: RunRequest): Promise<RunOutcome | undefined> {
    // a file the editor does not take for a DAG file (a helper, an .airflowignored one) is not made one by a tool
    if (!this.project.parser.states.get(request.dagFile)) return undefined;
    if (!this.taskItem(request.dagFile, request.dagId, request.taskId)) await this.project.parser.parse(request.dagFile);
    const item = this.taskItem(request.dagFile, request.dagId, request.taskId);
    if (!item) return undefined;
    const data = this.data.get(item);
    if (data?.kind === 'task' && data.task.mapped && request.mapIndex === undefined) {
      throw new EngineError('map-index', `${request.dagId}.${request.taskId} is a mapped task: say which map index to run`, 'give mapIndex (0 for the first)');
    }
    const launched = { dagFile: request.dagFile, dagId: request.dagId, taskId: request.taskId, mapIndex: request.mapIndex, date: request.date };
    return this.runForeign(request, (foreign) => this.runItems([item], cancellationOf(request.signal), false, { launched, foreign }));
  }

  /** An assistant's whole-DAG run, through the Testing view as "Run DAG" goes; undefined when the parse knows no such DAG. */
  async runDagFor(request: DagTestRequest): Promise<RunOutcome | undefined> {
    if (!this.project.parser.states.get(request.dagFile)) return undefined;
    if (!this.dagRunItem(request.dagFile, request.dagId)) await this.project.parser.parse(request.dagFile);
    const item = this.dagRunItem(request.dagFile, request.dagId);
    if (!item) return undefined;
    return this.runForeign(request, (foreign) => this.runItems([item], cancellationOf(request.signal), false, { dagInputs: { date: request.date, conf: request.conf }, foreign }));
  }

  private async runForeign(hooks: ForeignRun['hooks'], start: (foreign: ForeignRun) => Promise<void>): Promise<RunOutcome> {
    let result: { outcome: RunOutcome } | { error: unknown } | undefined;
    await start({ hooks, settle: (settled) => { result ??= settled; } });
    // refused (restricted mode) or cancelled before the engine was asked
    if (!result) throw new EngineError('cancelled', 'the run did not start');
    if ('error' in result) throw result.error;
    return result.outcome;
  }

  dispose(): void {
    this.ran.dispose();
    this.controller.dispose();
  }

  private syncFiles(): void {
    const files = new Set(this.project.parser.states.files);
    this.controller.items.forEach((item) => { if (!files.has(item.id)) this.controller.items.delete(item.id); });
    for (const file of files) {
      if (this.controller.items.get(file)) continue;
      const item = this.controller.createTestItem(file, vscode.workspace.asRelativePath(file), vscode.Uri.file(file));
      item.canResolveChildren = true;
      this.data.set(item, { kind: 'file', file });
      this.controller.items.add(item);
      const result = this.project.parser.states.get(file)?.result;
      if (result) this.applyResult(file, result);
    }
  }

  private applyResult(file: string, result: ParseResult): void {
    const fileItem = this.controller.items.get(file);
    if (!fileItem) return;
    fileItem.canResolveChildren = false;
    const first = result.importErrors[0];
    fileItem.error = first ? new vscode.MarkdownString(`Import error at ${path.basename(first.file)}:${first.line ?? 1}: ${first.message}`) : undefined;
    const dagItems: vscode.TestItem[] = [];
    for (const dag of result.dags) {
      const dagItem = this.controller.createTestItem(dagKey(file, dag.dagId), dag.dagId, vscode.Uri.file(dag.file ?? file));
      dagItem.description = `DAG, ${dag.tasks.length} task${dag.tasks.length === 1 ? '' : 's'}`;
      this.data.set(dagItem, { kind: 'dag', file, dag });
      const runItem = this.controller.createTestItem(dagRunKey(file, dag.dagId), `${dag.dagId} (whole DAG)`, vscode.Uri.file(dag.file ?? file));
      runItem.range = lineRange(dag.line);
      runItem.description = 'dag.test()';
      runItem.sortText = `\u0000${dag.dagId}`;   // first among the DAG's items, by name as by line
      this.data.set(runItem, { kind: 'dagRun', file, dag });
      dagItem.children.replace([runItem, ...dag.tasks.map((task) => {
        const taskItem = this.controller.createTestItem(taskKey(file, dag.dagId, task.taskId), task.taskId, vscode.Uri.file(task.file ?? file));
        taskItem.range = lineRange(task.line);
        taskItem.description = operatorLabel(task);
        this.data.set(taskItem, { kind: 'task', file, dag, task });
        return taskItem;
      })]);
      dagItems.push(dagItem);
    }
    fileItem.children.replace(dagItems);
  }

  private async run(request: vscode.TestRunRequest, token: vscode.CancellationToken, debug = false): Promise<void> {
    const run = this.controller.createTestRun(request);
    try {
      if (this.project.refuseUntrusted('Running a task')) {
        for (const item of request.include ?? []) run.skipped(item);
        return;
      }
      // A DAG named in the request (its row, its whole-DAG item, its gutter icon) runs whole, as dag.test() does;
      // the rest task by task (and under the debugger, a DAG's tasks one by one).
      const named = (request.include ?? []).filter((item) => { const kind = this.data.get(item)?.kind; return kind === 'dag' || kind === 'dagRun'; });
      const dags = debug || request.exclude?.length ? [] : named;
      const ranWhole = new Set<vscode.TestItem>();
      for (const item of dags) {
        const runItem = this.data.get(item)?.kind === 'dag' ? this.runItemOf(item) : item;
        if (token.isCancellationRequested || !runItem || ranWhole.has(runItem)) continue;
        ranWhole.add(runItem);
        await this.runDag(runItem, run, token, this.givenFor(request, runItem));
      }
      const { tasks, wholeDags } = await this.tasksOf(new vscode.TestRunRequest(request.include?.filter((item) => !dags.includes(item)), request.exclude, request.profile));
      for (const item of tasks) run.enqueued(item);
      const outcomes = new Map<vscode.TestItem, TaskRunReport['outcome']>();
      for (const item of tasks) {
        if (token.isCancellationRequested) run.skipped(item);
        else outcomes.set(item, await this.runTask(item, run, token, debug, this.givenFor(request, item)));
      }
      this.settleDagsOfTasks(wholeDags, outcomes, run);
    } finally {
      run.end();
    }
  }

  /** The whole-DAG item of a DAG's item. */
  private runItemOf(dagItem: vscode.TestItem): vscode.TestItem | undefined {
    let found: vscode.TestItem | undefined;
    dagItem.children.forEach((child) => { if (this.data.get(child)?.kind === 'dagRun') found = child; });
    return found;
  }

  /**
   * DAGs whose tasks all ran one by one because the request named the DAG or its file (a file's run, a DAG under the
   * debugger) give their whole-DAG item the tasks' result too; a task named by itself never decides its DAG's.
   */
  private settleDagsOfTasks(dags: ReadonlySet<vscode.TestItem>, outcomes: ReadonlyMap<vscode.TestItem, TaskRunReport['outcome']>, run: vscode.TestRun): void {
    for (const dagItem of dags) {
      const runItem = this.runItemOf(dagItem);
      const taskOutcomes: TaskRunReport['outcome'][] = [];
      let all = true;
      dagItem.children.forEach((child) => {
        if (this.data.get(child)?.kind !== 'task') return;
        const outcome = outcomes.get(child);
        if (outcome === undefined) all = false;
        else taskOutcomes.push(outcome);
      });
      if (!runItem || !all) continue;
      const failed = taskOutcomes.filter((outcome) => outcome === 'failed' || outcome === 'errored').length;
      if (failed) run.failed(runItem, new vscode.TestMessage(`${failed} of the ${taskOutcomes.length} tasks of ${dagItem.label} failed, each run on its own`));
      else if (taskOutcomes.every((outcome) => outcome === 'skipped')) run.skipped(runItem);
      else run.passed(runItem);
    }
  }

  /** A DAG's whole run (its whole-run item), with the inputs "Run DAG" or a tool gave it. */
  private async runDag(runItem: vscode.TestItem, run: vscode.TestRun, token: vscode.CancellationToken, given: RunGiven = {}): Promise<void> {
    const data = this.data.get(runItem);
    if (data?.kind !== 'dagRun') return;
    const items = new Map<string, vscode.TestItem>();
    runItem.parent?.children.forEach((child) => { const task = this.data.get(child); if (task?.kind === 'task') items.set(task.task.taskId, child); });
    await runDagItem(this.scope, { runItem, file: data.file, dag: data.dag, items, inputs: given.dagInputs ?? {}, foreign: given.foreign }, run, token);
  }

  /** What the runs of this face's items need of it. */
  private get scope(): RunScope {
    return { project: this.project, report: (report) => this.ran.fire(report), pickMapIndex: (task, dagId) => this.pickMapIndex(task, dagId) };
  }

  /** One task item's run; its outcome. */
  private async runTask(item: vscode.TestItem, run: vscode.TestRun, token: vscode.CancellationToken, debug: boolean, given: RunGiven = {}): Promise<TaskRunReport['outcome']> {
    const data = this.data.get(item);
    if (data?.kind !== 'task') return 'skipped';
    return runTaskItem(this.scope, { item, file: data.file, dag: data.dag, task: data.task, launched: given.launched, foreign: given.foreign }, run, token, debug);
  }

  /**
   * The task items a request names: files and DAGs stand for all of their tasks (a whole-DAG item too, under the
   * debugger); files are parsed first if needed. `wholeDags`: the DAGs that the request named whole (or through
   * their file), whose every task is among the tasks.
   */
  private async tasksOf(request: vscode.TestRunRequest): Promise<{ tasks: vscode.TestItem[]; wholeDags: Set<vscode.TestItem> }> {
    const roots: vscode.TestItem[] = request.include ? [...request.include] : [];
    if (!request.include) this.controller.items.forEach((item) => roots.push(item));
    const excluded = new Set(request.exclude ?? []);
    // a request may name a task and its file both ("Test at Cursor" does): each task runs once
    const out = new Set<vscode.TestItem>();
    const wholeDags = new Set<vscode.TestItem>();
    const seen = new Set<vscode.TestItem>();
    const visit = async (item: vscode.TestItem): Promise<void> => {
      if (excluded.has(item) || seen.has(item)) return;
      seen.add(item);
      const data = this.data.get(item);
      if (data?.kind === 'task') return void out.add(item);
      // named by itself (the debugger), a whole-DAG item stands for its DAG; reached from the DAG, it is the DAG's
      if (data?.kind === 'dagRun') return roots.includes(item) && item.parent ? visit(item.parent) : undefined;
      if (data?.kind === 'file' && !this.project.parser.states.get(data.file)?.result) await this.project.parser.parse(data.file);
      const children: vscode.TestItem[] = [];
      item.children.forEach((child) => children.push(child));
      if (data?.kind === 'dag' && !children.some((child) => excluded.has(child))) wholeDags.add(item);
      for (const child of children) await visit(child);
    };
    for (const root of roots) await visit(root);
    return { tasks: [...out], wholeDags };
  }

  /** What the request gave `item`: only a request of that one item gives anything (a launch, a tool's call, Run DAG). */
  private givenFor(request: vscode.TestRunRequest, item: vscode.TestItem): RunGiven {
    const given = this.givens.get(request);
    return given && request.include?.length === 1 && request.include[0] === item ? given : {};
  }
}

/** A cancellation token that follows an abort signal (none given: one that is never cancelled). */
function cancellationOf(signal: AbortSignal | undefined): vscode.CancellationToken {
  const source = new vscode.CancellationTokenSource();
  if (signal?.aborted) source.cancel();
  else signal?.addEventListener('abort', () => source.cancel(), { once: true });
  return source.token;
}

function lineRange(line: number | null): vscode.Range | undefined {
  return line ? new vscode.Range(line - 1, 0, line - 1, 0) : undefined;
}
