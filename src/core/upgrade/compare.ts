import { type DagInfo, operatorLabel, type ParseResult } from '../harness/parseResult';
import { type ParseProblem, type ParseProblemOptions, parseProblems } from '../project/parseProblems';
import type { StaticFinding } from './ruff';

/** What moving a DAG file to the target does: it breaks (a new import error), changes, or is unchanged. */
export type UpgradeVerdict = 'breaks' | 'changes' | 'unchanged';

/** One thing the check found, at its line: a new error, a change of the DAGs, a new warning. */
export interface UpgradeFinding {
  file: string;
  /** 1-based; null when nothing tells (shown at the top of the file). */
  line: number | null;
  column: number | null;
  kind: 'breaks' | 'changes' | 'warning';
  message: string;
}

/** How a side of the comparison is named for a person: its Airflow version, and its image when both have one version. */
export interface Side {
  airflowVersion: string;
  /** The image or runtime the side ran (`airflow:2.11.2`, the target runtime file). */
  runtime: string;
}

/** A DAG as the report document shows it: its tasks with their types, edges and schedule. */
export interface DagShape {
  dagId: string;
  line: number | null;
  schedule: string | null;
  tasks: { taskId: string; type: string; line: number | null }[];
  edges: string[];
}

export interface FileComparison {
  file: string;
  verdict: UpgradeVerdict;
  findings: UpgradeFinding[];
  before: DagShape[];
  after: DagShape[];
}

/** `2.11.2` and `3.3.2`, or, where both are one Airflow (a provider upgrade), the runtimes too. */
export function sideNames(current: Side, target: Side): [string, string] {
  if (current.airflowVersion !== target.airflowVersion) return [current.airflowVersion, target.airflowVersion];
  return [`${current.airflowVersion} (${current.runtime})`, `${target.airflowVersion} (${target.runtime})`];
}

export function dagShape(dag: DagInfo): DagShape {
  return {
    dagId: dag.dagId, line: dag.line, schedule: dag.schedule,
    tasks: dag.tasks.map((t) => ({ taskId: t.taskId, type: operatorLabel(t), line: t.line })),
    edges: dag.tasks.flatMap((t) => t.downstream.map((d) => `${t.taskId} >> ${d}`)).sort(),
  };
}

const keyOf = (p: Pick<ParseProblem, 'file' | 'line' | 'message'>) => `${p.file}:${p.line}:${p.message}`;
const scheduleText = (schedule: string | null) => (schedule === null ? 'none' : schedule);

/**
 * The one rule from two parses of a DAG file (in its runtime, and with the target applied) to what the move does:
 * errors the target has and the current runtime has not break it; DAGs and tasks that appear or disappear, edges,
 * schedules, task types and new warnings change it. Problems are found by the parse rule (parseProblems).
 */
export function compareParses(dagFile: string, current: ParseResult, target: ParseResult, names: { current: Side; target: Side }, options: ParseProblemOptions = {}): FileComparison {
  const [was, now] = sideNames(names.current, names.target);
  const before = parseProblems(dagFile, current, options);
  const after = parseProblems(dagFile, target, options);
  const had = new Set(before.map(keyOf));
  const findings: UpgradeFinding[] = [];
  const currentFails = current.importErrors.length > 0 || !!current.timedOut;

  for (const p of after) {
    if (had.has(keyOf(p)) || p.severity !== 'error') continue;
    const where = currentFails ? `new on ${now}; ${was} fails with another error` : `works on ${was}, fails on ${now}`;
    const message = p.code === 'parse-timeout' ? `parsing did not finish within timeouts.parse on ${now} (it did on ${was})` : `${p.message} (${where})`;
    findings.push({ file: p.file, line: p.line, column: p.column, kind: 'breaks', message });
  }
  const has = new Set(after.map(keyOf));
  for (const p of before) {
    if (p.severity === 'error' && !has.has(keyOf(p)) && p.code !== 'import-error-elsewhere') {
      findings.push({ file: p.file, line: p.line, column: p.column, kind: 'changes', message: `works on ${now}, fails on ${was}: ${p.message}` });
    }
  }
  for (const p of after) {
    if (p.severity === 'warning' && !had.has(keyOf(p))) findings.push({ file: p.file, line: p.line, column: p.column, kind: 'warning', message: `${p.message} (new on ${now})` });
  }
  const targetFails = target.importErrors.length > 0 || !!target.timedOut;
  // DAGs a failing file does not load are not news: the error above says why
  if (!targetFails && !currentFails) findings.push(...dagChanges(dagFile, current.dags, target.dags, was, now));

  const verdict: UpgradeVerdict = findings.some((f) => f.kind === 'breaks') ? 'breaks' : findings.length ? 'changes' : 'unchanged';
  return { file: dagFile, verdict, findings, before: current.dags.map(dagShape), after: target.dags.map(dagShape) };
}

function dagChanges(dagFile: string, before: DagInfo[], after: DagInfo[], was: string, now: string): UpgradeFinding[] {
  const findings: UpgradeFinding[] = [];
  const at = (file: string | undefined | null, line: number | null, kind: UpgradeFinding['kind'], message: string) =>
    findings.push({ file: file ?? dagFile, line, column: null, kind, message });
  const afterById = new Map(after.map((d) => [d.dagId, d]));
  const beforeIds = new Set(before.map((d) => d.dagId));
  for (const dag of before) {
    const next = afterById.get(dag.dagId);
    if (!next) {
      at(dag.file, dag.line, 'changes', `DAG "${dag.dagId}" is gone on ${now} (defined here on ${was})`);
      continue;
    }
    if (dag.schedule !== next.schedule) at(next.file, next.line, 'changes', `DAG "${dag.dagId}": schedule ${scheduleText(dag.schedule)} on ${was}, ${scheduleText(next.schedule)} on ${now}`);
    const tasksAfter = new Map(next.tasks.map((t) => [t.taskId, t]));
    const tasksBefore = new Set(dag.tasks.map((t) => t.taskId));
    for (const task of dag.tasks) {
      const moved = tasksAfter.get(task.taskId);
      if (!moved) at(task.file, task.line ?? dag.line, 'changes', `task "${task.taskId}" of DAG "${dag.dagId}" is gone on ${now}`);
      else if (operatorLabel(task) !== operatorLabel(moved)) at(moved.file, moved.line ?? next.line, 'changes', `task "${task.taskId}" of DAG "${dag.dagId}": ${operatorLabel(task)} on ${was}, ${operatorLabel(moved)} on ${now}`);
    }
    for (const task of next.tasks) {
      if (!tasksBefore.has(task.taskId)) at(task.file, task.line ?? next.line, 'changes', `task "${task.taskId}" of DAG "${dag.dagId}" is new on ${now} (${operatorLabel(task)})`);
    }
    const edgesBefore = new Set(dagShape(dag).edges);
    const edgesAfter = new Set(dagShape(next).edges);
    const lineOf = (d: DagInfo, edge: string) => d.tasks.find((t) => t.taskId === edge.split(' >> ')[1])?.line ?? d.line;
    for (const edge of edgesBefore) if (!edgesAfter.has(edge) && tasksAfter.has(edge.split(' >> ')[0]) && tasksAfter.has(edge.split(' >> ')[1])) at(next.file, lineOf(next, edge), 'changes', `DAG "${dag.dagId}": edge ${edge} is gone on ${now}`);
    for (const edge of edgesAfter) if (!edgesBefore.has(edge) && tasksBefore.has(edge.split(' >> ')[0]) && tasksBefore.has(edge.split(' >> ')[1])) at(next.file, lineOf(next, edge), 'changes', `DAG "${dag.dagId}": edge ${edge} is new on ${now}`);
  }
  for (const dag of after) if (!beforeIds.has(dag.dagId)) at(dag.file, dag.line, 'changes', `DAG "${dag.dagId}" is new on ${now}`);
  return findings;
}

/** A static finding as the check's text says it: the rule, ruff's words, and the fix ruff offers. */
export function staticFindingText(finding: StaticFinding): string {
  const fix = finding.fix ? ` [${finding.fix.applicability === 'safe' ? 'safe fix (--fix applies it)' : `${finding.fix.applicability} fix`}: ${finding.fix.message}]` : '';
  return `${finding.rule} ${finding.message} (static: ruff)${fix}`;
}
