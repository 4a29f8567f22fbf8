import * as vscode from 'vscode';
import { describeFailure, isCancelled } from '../core/engine/errors';
import type { DagInfo } from '../core/harness/parseResult';
import type { RunOutcome, TaskStateEvent } from '../core/engine/types';
import { taskOutcomeOf } from '../core/project/dagRunStates';
import type { ForeignRun, RunScope, TaskRunReport } from './taskRun';

/** What a whole-DAG run is given: its logical date (YYYY-MM-DD) and its conf (a JSON object as text). */
export interface DagRunInputs {
  date?: string;
  conf?: string;
}

/** A DAG's whole-run item, its task items by task id, and what the run is given. */
export interface DagRunSubject {
  runItem: vscode.TestItem;
  file: string;
  dag: DagInfo;
  items: ReadonlyMap<string, vscode.TestItem>;
  inputs: DagRunInputs;
  foreign?: ForeignRun;
}

/**
 * The whole DAG as dag.test() runs it, in its runtime: the whole-run item gets the run's result and log, each task
 * item its own result as its task ends, and the graph the states as they change.
 */
export async function runDagItem(scope: RunScope, subject: DagRunSubject, run: vscode.TestRun, token: vscode.CancellationToken): Promise<void> {
  await new DagItemRun(scope, subject, run).run(token);
}

/** One whole-DAG run: its log into the whole-run item, each task's state into the graph and its result into its item. */
class DagItemRun {
  private readonly lines: string[] = [];
  /** The states each task's instances ended in, as the run's end tells them. */
  private readonly finals = new Map<string, { states: string[]; durationMs: number }>();
  /** The outcome each task item was given (a task may get it as it ends, before the run does). */
  private readonly settled = new Map<string, TaskRunReport['outcome']>();
  private readonly mapped: ReadonlySet<string>;

  constructor(private readonly scope: RunScope, private readonly subject: DagRunSubject, private readonly testRun: vscode.TestRun) {
    this.mapped = new Set(subject.dag.tasks.filter((task) => task.mapped).map((task) => task.taskId));
  }

  async run(token: vscode.CancellationToken): Promise<void> {
    const { runItem, file, dag, items, foreign } = this.subject;
    this.testRun.enqueued(runItem);
    items.forEach((item) => this.testRun.enqueued(item));
    this.scope.project.runStates.beginDagRun(file, dag.dagId, [...items.keys()]);
    const controller = new AbortController();
    const cancelled = token.onCancellationRequested(() => controller.abort());
    const ended = this.scope.project.taskRuns.begin({ label: `${dag.dagId} (the whole DAG)`, cancel: () => controller.abort() });
    this.testRun.started(runItem);
    try {
      const outcome = await this.execute(controller.signal);
      foreign?.settle({ outcome });
      this.finished(outcome);
    } catch (error) {
      foreign?.settle({ error });
      this.failedToRun(error, controller.signal.aborted);
    } finally {
      cancelled.dispose();
      ended();
    }
  }

  /** The DAG in its runtime as dag.test() runs it; the log and the tasks' states as they come. */
  private async execute(signal: AbortSignal): Promise<RunOutcome> {
    const { runItem, file, dag, inputs, foreign } = this.subject;
    const runtime = this.scope.project.runtimes.runtimeOf(file);
    const { engine, reason } = await this.scope.project.session.engine();
    const given = [inputs.date && `logical date ${inputs.date}`, inputs.conf && inputs.conf !== '{}' && `conf ${inputs.conf}`].filter(Boolean).join(', ');
    this.testRun.appendOutput(`\x1b[2mRunning the whole DAG ${dag.dagId} in ${runtime.values.image ?? 'its runtime'} (${reason}), as dag.test() does${given ? `, ${given}` : ''}\x1b[0m\r\n`, undefined, runItem);
    return engine.testDag({
      dagFile: file, runtime, dagId: dag.dagId, date: inputs.date, conf: inputs.conf, signal,
      onProgress: foreign?.hooks.onProgress, onNotice: foreign?.hooks.onNotice,
      onLog: (line, stream) => {
        this.lines.push(line);
        if (this.lines.length > 5000) this.lines.shift();
        this.testRun.appendOutput(`${line}\r\n`, undefined, runItem);
        foreign?.hooks.onLog(line, stream);
      },
      onTask: (event) => {
        foreign?.hooks.onTask?.(event);
        this.taskChanged(event);
      },
    });
  }

  private taskChanged(event: TaskStateEvent): void {
    const { file, dag, items } = this.subject;
    const states = this.scope.project.runStates;
    const item = items.get(event.taskId);
    if (!item) return;
    if (!event.final) {
      states.set(file, dag.dagId, event.taskId, event.state, event.durationMs);
      if (event.state === 'running') this.testRun.started(item);
      // a task that is not mapped has its result when it ends (a mapped one when the run ends)
      else if (!this.mapped.has(event.taskId) && (event.state === 'success' || event.state === 'failed')) this.settle(event.taskId, [event.state], event.durationMs ?? 0);
      return;
    }
    // the end of the run tells the tasks that never started (upstream failed, skipped)
    if (states.of(file, dag.dagId).get(event.taskId)?.state === 'queued') states.set(file, dag.dagId, event.taskId, event.state === 'none' ? 'skipped' : event.state);
    const known = this.finals.get(event.taskId) ?? { states: [], durationMs: 0 };
    known.states.push(event.state);
    known.durationMs += event.durationMs ?? 0;
    this.finals.set(event.taskId, known);
  }

  /** A task item's result, from the states its instances ended in. */
  private settle(taskId: string, taskStates: string[], durationMs: number): void {
    const { dag, items } = this.subject;
    const item = items.get(taskId)!;
    const outcome = taskOutcomeOf(taskStates);
    this.settled.set(taskId, outcome);
    if (outcome === 'passed') this.testRun.passed(item, durationMs || undefined);
    if (outcome === 'skipped') this.testRun.skipped(item);
    if (outcome !== 'failed') return this.report(taskId, outcome);
    const message = new vscode.TestMessage(taskStates.includes('failed') ? `${dag.dagId}.${taskId} failed in the DAG run (its log is in the DAG's output)` : `${dag.dagId}.${taskId} did not run: an upstream task failed`);
    this.testRun.failed(item, message);
    this.report(taskId, 'failed', message);
  }

  /** The run ended: every task item gets the result its instances ended in, the whole-run item the run's. */
  private finished(outcome: RunOutcome): void {
    const { runItem, file, dag, items } = this.subject;
    for (const taskId of items.keys()) {
      const final = this.finals.get(taskId) ?? { states: [], durationMs: 0 };
      if (this.settled.get(taskId) !== taskOutcomeOf(final.states)) this.settle(taskId, final.states, final.durationMs);
    }
    const failed = [...this.settled].filter(([, taskOutcome]) => taskOutcome === 'failed').map(([taskId]) => taskId);
    if (outcome.exitCode === 0 && failed.length === 0) this.testRun.passed(runItem, outcome.durationMs);
    else {
      const message = new vscode.TestMessage(`${dag.dagId} failed${failed.length ? `: ${failed.join(', ')} did not succeed` : ` (exit code ${outcome.exitCode})`}; the run's log is in this item's output`);
      message.location = new vscode.Location(vscode.Uri.file(dag.file ?? file), new vscode.Position(Math.max(0, (dag.line ?? 1) - 1), 0));
      this.testRun.failed(runItem, message, outcome.durationMs);
    }
    this.scope.project.log.info(`DAG ${dag.dagId} ${outcome.exitCode === 0 ? 'passed' : 'failed'} in ${outcome.durationMs} ms`);
  }

  /** The run was cancelled (every item skipped), or could not be done (errored, with what to do). */
  private failedToRun(error: unknown, aborted: boolean): void {
    const { runItem, file, dag, items } = this.subject;
    const states = this.scope.project.runStates;
    const cancelledRun = aborted || isCancelled(error);
    for (const [taskId, entry] of states.of(file, dag.dagId)) if (entry.state === 'queued' || entry.state === 'running') states.set(file, dag.dagId, taskId, 'cancelled');
    for (const [taskId, item] of items) {
      if (cancelledRun) this.testRun.skipped(item);
      else this.testRun.errored(item, new vscode.TestMessage(describeFailure(error)));
      this.report(taskId, cancelledRun ? 'skipped' : 'errored');
    }
    if (cancelledRun) return void this.testRun.skipped(runItem);
    this.testRun.errored(runItem, new vscode.TestMessage(describeFailure(error)));
    this.scope.project.log.error(`DAG ${dag.dagId}: ${describeFailure(error)}`);
  }

  private report(taskId: string, outcome: TaskRunReport['outcome'], message?: vscode.TestMessage): void {
    this.scope.report({ file: this.subject.file, dagId: this.subject.dag.dagId, taskId, outcome, log: this.lines, message });
  }
}
