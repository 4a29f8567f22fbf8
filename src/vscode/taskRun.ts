import * as path from 'node:path';
import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import { describeFailure, isCancelled } from '../core/engine/errors';
import type { DagInfo, TaskInfo } from '../core/harness/parseResult';
import { lastException } from '../core/engine/traceback';
import type { DagTestRequest, RunOutcome, RunRequest } from '../core/engine/types';
import { attachOnReady, type LaunchTarget } from './debugging';
import type { Project } from './project';

/** How one task run ended, with its log: for the extension's own tests and anyone who listens. */
export interface TaskRunReport {
  file: string;
  dagId: string;
  taskId: string;
  outcome: 'passed' | 'failed' | 'errored' | 'skipped';
  log: string[];
  mapIndex?: number;
  /** The failure as the Testing view shows it: message, location and stack frames. */
  message?: vscode.TestMessage;
}

/** Which map index of a mapped task to run; undefined: the person chose none (the run is skipped). */
export type MapIndexPicker = (task: TaskInfo, dagId: string) => Promise<number | undefined>;

/**
 * A run someone else asked for (an assistant's tool) that goes through the Testing view as a person's run does:
 * the caller's own log, task-state, progress and notice hooks ride along, and it gets the engine's outcome or error.
 */
export interface ForeignRun {
  hooks: Pick<DagTestRequest, 'onLog' | 'onTask' | 'onProgress' | 'onNotice'>;
  settle(result: { outcome: RunOutcome } | { error: unknown }): void;
}

/** What task and DAG runs need of the Testing face: the project, where their reports go, the map-index question. */
export interface RunScope {
  project: Project;
  report(report: TaskRunReport): void;
  pickMapIndex: MapIndexPicker;
}

/** A task item and what it stands for; `launched`: what a launch configuration said (map index, date). */
export interface TaskRunSubject {
  item: vscode.TestItem;
  file: string;
  dag: DagInfo;
  task: TaskInfo;
  launched?: LaunchTarget;
  foreign?: ForeignRun;
}

/** Runs one task in its runtime (under debugpy when `debug`), its log streamed into the item's output; its outcome. */
export async function runTaskItem(scope: RunScope, subject: TaskRunSubject, run: vscode.TestRun, token: vscode.CancellationToken, debug: boolean): Promise<TaskRunReport['outcome']> {
  const { item, file, dag, task, launched } = subject;
  let mapIndex = launched?.mapIndex;
  if (task.mapped && mapIndex === undefined) {
    mapIndex = await scope.pickMapIndex(task, dag.dagId);
    if (mapIndex === undefined) {
      run.skipped(item);
      scope.report({ file, dagId: dag.dagId, taskId: task.taskId, outcome: 'skipped', log: [] });
      return 'skipped';
    }
  }
  return new TaskItemRun(scope, subject, run, mapIndex).run(token, debug);
}

type Outcome = TaskRunReport['outcome'];

/** One run of a task item: its log into the item's output, its state into the graph, its result into the view. */
class TaskItemRun {
  private readonly lines: string[] = [];
  private readonly label: string;
  private outcome: Outcome = 'skipped';

  constructor(private readonly scope: RunScope, private readonly subject: TaskRunSubject, private readonly testRun: vscode.TestRun, private readonly mapIndex: number | undefined) {
    this.label = `${subject.dag.dagId}.${subject.task.taskId}${mapIndex === undefined ? '' : `[${mapIndex}]`}`;
  }

  async run(token: vscode.CancellationToken, debug: boolean): Promise<Outcome> {
    const { item, file, foreign } = this.subject;
    const controller = new AbortController();
    let settle = () => undefined as void;
    const settled = new Promise<void>((resolve) => { settle = resolve; });
    const cancelled = token.onCancellationRequested(() => controller.abort());
    const ended = this.scope.project.taskRuns.begin({ label: this.label, cancel: () => controller.abort() });
    this.testRun.started(item);
    this.setState('running');
    const started = Date.now();
    try {
      const debugOptions = debug ? attachOnReady(`Debug ${this.label}`, file, () => { controller.abort(); return settled; }) : undefined;
      const outcome = await this.execute(controller.signal, debugOptions);
      foreign?.settle({ outcome });
      this.finished(outcome);
    } catch (error) {
      foreign?.settle({ error });
      this.failedToRun(error, controller.signal.aborted, Date.now() - started);
    } finally {
      cancelled.dispose();
      ended();
      settle();
    }
    return this.outcome;
  }

  /** The task in its runtime, its log streamed into the item's output (and to a foreign caller). */
  private async execute(signal: AbortSignal, debug: RunRequest['debug']): Promise<RunOutcome> {
    const { item, file, dag, task, launched, foreign } = this.subject;
    const runtime = this.scope.project.runtimes.runtimeOf(file);
    const { engine, reason } = await this.scope.project.session.engine();
    this.testRun.appendOutput(`\x1b[2mRunning ${this.label} in ${runtime.values.image ?? 'its runtime'} (${reason})\x1b[0m\r\n`, undefined, item);
    return engine.run({
      dagFile: file, runtime, dagId: dag.dagId, taskId: task.taskId, mapIndex: this.mapIndex, date: launched?.date, signal, debug,
      onProgress: foreign?.hooks.onProgress, onNotice: foreign?.hooks.onNotice,
      onLog: (line, stream) => {
        this.lines.push(line);
        if (this.lines.length > 2000) this.lines.shift();
        this.testRun.appendOutput(`${line}\r\n`, undefined, item);
        foreign?.hooks.onLog(line, stream);
      },
    });
  }

  /** The task ran to its end: passed, or failed with its exception at its line. */
  private finished(outcome: RunOutcome): void {
    const { item, file, dag, task } = this.subject;
    this.setState(outcome.exitCode === 0 ? 'success' : 'failed', outcome.durationMs);
    if (outcome.exitCode === 0) {
      this.testRun.passed(item, outcome.durationMs);
      this.report('passed');
    } else {
      const message = taskFailureMessage(this.label, this.lines, this.location(), this.scope.project.workspaceRootOf(file));
      this.testRun.failed(item, message, outcome.durationMs);
      this.report('failed', message);
    }
    this.scope.project.log.info(`task ${dag.dagId}.${task.taskId} ${outcome.exitCode === 0 ? 'passed' : 'failed'} in ${outcome.durationMs} ms`);
  }

  /** The run was cancelled (skipped), or could not be done (errored, with what to do). */
  private failedToRun(error: unknown, aborted: boolean, durationMs: number): void {
    const { item, dag, task } = this.subject;
    const cancelledRun = aborted || isCancelled(error);
    this.setState(cancelledRun ? 'cancelled' : 'failed', durationMs);
    if (cancelledRun) {
      this.testRun.skipped(item);
      this.report('skipped');
      this.testRun.appendOutput('Cancelled: the task was stopped and its container or process tree removed.\r\n', undefined, item);
      return;
    }
    const text = describeFailure(error);
    const message = new vscode.TestMessage(text);
    message.location = this.location();
    this.testRun.errored(item, message, durationMs);
    this.report('errored', message);
    this.scope.project.log.error(`task ${dag.dagId}.${task.taskId}: ${text}`);
  }

  private location(): vscode.Location {
    const { file, task } = this.subject;
    return new vscode.Location(vscode.Uri.file(task.file ?? file), new vscode.Position(Math.max(0, (task.line ?? 1) - 1), 0));
  }

  private setState(state: string, durationMs?: number): void {
    this.scope.project.runStates.set(this.subject.file, this.subject.dag.dagId, this.subject.task.taskId, state, durationMs);
  }

  private report(outcome: Outcome, message?: vscode.TestMessage): void {
    this.outcome = outcome;
    const { file, dag, task } = this.subject;
    this.scope.report({ file, dagId: dag.dagId, taskId: task.taskId, outcome, log: this.lines, mapIndex: this.mapIndex, message });
  }
}

/** A quick pick of the map indexes the parse knows (literal lists), else a box for a number. */
export async function pickMapIndex(task: TaskInfo, dagId: string): Promise<number | undefined> {
  const title = `Run ${dagId}.${task.taskId}: which map index?`;
  if (task.mapCount) {
    const picked = await vscode.window.showQuickPick(
      Array.from({ length: task.mapCount }, (_, n) => ({ label: `map index ${n}`, index: n })),
      { title, placeHolder: `${task.taskId} is mapped over ${task.mapCount} value(s); its upstream tasks run first` },
    );
    return picked?.index;
  }
  const typed = await vscode.window.showInputBox({
    title, value: '0',
    prompt: `${task.taskId} is mapped over an upstream task's output: its upstream tasks (${task.upstream.join(', ') || 'none'}) run first, then this map index`,
    validateInput: (value) => (/^\d+$/.test(value.trim()) ? undefined : 'a map index is a whole number, 0 or more'),
  });
  return typed === undefined ? undefined : Number(typed.trim());
}

/**
 * A failed task as the Testing view shows it: the exception it raised, at the deepest line of the workspace's
 * files that raised it, with every frame (but the harness's) as a clickable stack frame.
 */
function taskFailureMessage(label: string, lines: string[], fallback: vscode.Location, workspaceRoot: string): vscode.TestMessage {
  const exception = lastException(lines);
  const message = new vscode.TestMessage(exception ? `${label} failed: ${exception.message}` : `${label} failed.\n\n${failureExcerpt(lines)}`);
  message.location = fallback;
  if (!exception) return message;
  const onHost = (file: string) => existsSync(file);
  const inWorkspace = exception.frames.filter((frame) => onHost(frame.file) && !path.relative(workspaceRoot, frame.file).startsWith('..'));
  const raising = inWorkspace[inWorkspace.length - 1];
  if (raising) message.location = new vscode.Location(vscode.Uri.file(raising.file), new vscode.Position(raising.line - 1, 0));
  // innermost first, as debuggers show a stack
  message.stackTrace = [...exception.frames].reverse().map((frame) => new vscode.TestMessageStackFrame(
    `${frame.name} (${path.basename(frame.file)}:${frame.line})`,
    onHost(frame.file) ? vscode.Uri.file(frame.file) : undefined,
    new vscode.Position(frame.line - 1, 0),
  ));
  return message;
}

/** The end of the log from the last traceback on, or its last lines: what a person reads first. */
export function failureExcerpt(lines: string[]): string {
  const start = lines.map((line) => line.includes('Traceback (most recent call last)')).lastIndexOf(true);
  return (start >= 0 ? lines.slice(start) : lines.slice(-30)).join('\n');
}
