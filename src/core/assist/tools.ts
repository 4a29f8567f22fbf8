import { statSync } from 'node:fs';
import Ajv, { type ValidateFunction } from 'ajv';
import type { ParseResult } from '../harness/parseResult';
import { dagRunConfProblem, logicalDateProblem } from '../engine/runInputs';
import { lastException } from '../engine/traceback';
import type { Engine, ProgressEvent, TaskStateEvent } from '../engine/types';
import { isFailedState, stateWords, taskInstanceName } from '../project/dagRunStates';
import { parseProblems } from '../project/parseProblems';
import { renderedText, templateFailureMessage } from '../project/renderedTemplate';
import { compareProblems, formatProblem, hasErrors } from '../problems';
import { effectiveRuntimeYaml } from '../runtime/describe';
import type { EffectiveRuntime } from '../runtime/resolve';
import { redactedValues } from '../runtime/secrets';
import { BoundedLog } from './boundedLog';
import { isInsideProject, projectPath, shownPath } from './projectPaths';
import { ToolError, toolErrorOf } from './toolError';

/**
 * Our verbs as tools for coding assistants: one description of each tool's input (JSON Schema) and one function
 * per tool that returns text a model reads well and the same facts as structured content. The MCP server
 * (cli/mcp.ts) and the editor's language-model tools are thin faces of these.
 */

/** What a tool may use of the place it runs in: the CLI and the editor each give their own. */
export interface ToolHost {
  /** The project root: every path is relative to it, and nothing outside it is read or run. */
  root: string;
  /** The effective runtime of a DAG file, with no host access granted by the tool itself. */
  runtimeOf(dagFile: string): EffectiveRuntime;
  /** The DAG files under a folder (or the file itself), by Airflow's rule. */
  dagFilesUnder(absolute: string): string[];
  /** The engine, chosen on first use and kept (its choice said once, in `engineReason`). */
  engine(): Promise<{ engine: Engine; reason: string }>;
}

/** One call: cancelled through `signal` (the container or process tree is killed), progress said as it goes. */
export interface ToolCall {
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

export interface ToolResult {
  text: string;
  structured: Record<string, unknown>;
  /** The tool could not do its job (a refused path, a bad runtime file, an engine that is not there). */
  isError?: boolean;
}

export interface ToolSpec {
  name: ToolName;
  title: string;
  description: string;
  inputSchema: { type: 'object'; properties: Record<string, unknown>; required?: string[]; additionalProperties: false };
  /** Runs the DAG file's code beyond its import (a task, a whole DAG): an editor asks before it does. */
  runsTasks: boolean;
}

export type ToolName = 'parse_dag_file' | 'run_task' | 'test_dag' | 'render_task' | 'resolve_runtime' | 'list_dag_files';

const DAG_FILE = { type: 'string', description: 'The DAG file, relative to the project root (as list_dag_files shows it), e.g. "dags/etl.py".' };
const DAG_ID = { type: 'string', minLength: 1, description: 'The DAG id, as parse_dag_file reports it.' };
const TASK_ID = { type: 'string', minLength: 1, description: 'The task id, as parse_dag_file reports it (a task in a TaskGroup: "group.task").' };
const DATE = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'The logical date, YYYY-MM-DD (default: now).' };
const MAP_INDEX = { type: 'integer', minimum: 0, description: 'For a mapped task: which map index to run.' };

export const TOOL_SPECS: readonly ToolSpec[] = [
  {
    name: 'parse_dag_file', title: 'Parse a DAG file in its runtime', runsTasks: false,
    description: 'Imports one DAG file with Airflow\'s own DagBag inside the runtime it really runs in (its Docker image or local interpreter, '
      + 'as its airflow-runtime.yaml says), not on this machine\'s Python. Returns its DAGs, tasks and edges, and its import errors and '
      + 'warnings at path:line:col. Use it after editing a DAG file to check that it imports.',
    inputSchema: { type: 'object', properties: { path: DAG_FILE }, required: ['path'], additionalProperties: false },
  },
  {
    name: 'run_task', title: 'Run one task in its runtime', runsTasks: true,
    description: 'Runs one task of a DAG, as "airflow tasks test" does, inside the DAG file\'s runtime, and returns whether it succeeded, '
      + 'the end of its log, and the exception it failed with at its file:line. Runs the task\'s code for real.',
    inputSchema: { type: 'object', properties: { dagFile: DAG_FILE, dagId: DAG_ID, taskId: TASK_ID, date: DATE, mapIndex: MAP_INDEX }, required: ['dagFile', 'dagId', 'taskId'], additionalProperties: false },
  },
  {
    name: 'test_dag', title: 'Run a whole DAG in its runtime', runsTasks: true,
    description: 'Runs every task of a DAG in order, as dag.test() does, inside the DAG file\'s runtime, against a private metadata '
      + 'database. Returns each task\'s final state, the failing tasks\' error, and the end of the log. Runs the tasks\' code for real.',
    inputSchema: {
      type: 'object',
      properties: { dagFile: DAG_FILE, dagId: DAG_ID, date: DATE, conf: { type: 'object', description: 'The DAG run\'s conf (a JSON object).' } },
      required: ['dagFile', 'dagId'], additionalProperties: false,
    },
  },
  {
    name: 'render_task', title: 'Render a task\'s templates in its runtime', runsTasks: false,
    description: 'Renders one task\'s templated fields (Jinja) for a logical date inside the DAG file\'s runtime, as "airflow tasks render" '
      + 'does. Returns each field\'s rendered value, or the field whose template failed and why.',
    inputSchema: { type: 'object', properties: { dagFile: DAG_FILE, dagId: DAG_ID, taskId: TASK_ID, date: DATE, mapIndex: MAP_INDEX }, required: ['dagFile', 'dagId', 'taskId'], additionalProperties: false },
  },
  {
    name: 'resolve_runtime', title: 'Show a DAG file\'s runtime', runsTasks: false,
    description: 'The effective runtime of a DAG file (image, local interpreter, env, Airflow config, Variables, Connections, timeouts...) '
      + 'merged from its airflow-runtime.yaml files, each value with the file and line it came from; secrets shown as ***. Runs nothing.',
    inputSchema: { type: 'object', properties: { dagFile: DAG_FILE }, required: ['dagFile'], additionalProperties: false },
  },
  {
    name: 'list_dag_files', title: 'List the DAG files and their runtimes', runsTasks: false,
    description: 'The files Airflow would parse as DAG files (under a folder, default the whole project), each with the runtime it '
      + 'runs in and the runtime files that say so. Runs nothing.',
    inputSchema: { type: 'object', properties: { path: { type: 'string', description: 'A folder or file relative to the project root (default: the project root).' } }, additionalProperties: false },
  },
];

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = new Map<string, ValidateFunction>(TOOL_SPECS.map((spec) => [spec.name, ajv.compile(spec.inputSchema)]));

/** Calls a tool by name: a failure of any kind comes back as a result with `isError` and what to do. */
export async function callTool(name: string, input: unknown, host: ToolHost, call: ToolCall = {}): Promise<ToolResult> {
  try {
    const validate = validators.get(name);
    if (!validate) throw new ToolError(`no tool named "${name}"`, `use one of ${TOOL_SPECS.map((s) => s.name).join(', ')}`, 'unknown-tool');
    const args = (input ?? {}) as Record<string, unknown>;
    if (!validate(args)) {
      const problems = (validate.errors ?? []).map((e) => `${e.instancePath || 'input'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
      throw new ToolError(`bad input for ${name}: ${problems.join('; ')}`, 'call it again with the input its schema describes', 'bad-input');
    }
    return await TOOLS[name as ToolName](args, host, call);
  } catch (error) {
    const failure = toolErrorOf(error);
    if (call.signal?.aborted) return { text: `${name} was cancelled: every container and process it started was stopped.`, structured: { error: { code: 'cancelled', message: 'cancelled' } }, isError: true };
    return { text: failure.describe(), structured: { error: { code: failure.code, message: failure.message, ...(failure.hint ? { whatToDo: failure.hint } : {}) } }, isError: true };
  }
}

type Tool = (args: Record<string, unknown>, host: ToolHost, call: ToolCall) => Promise<ToolResult>;

const TOOLS: Record<ToolName, Tool> = {
  parse_dag_file: parseDagFile,
  run_task: runTask,
  test_dag: testDag,
  render_task: renderTask,
  resolve_runtime: async (args, host) => resolveRuntimeTool(args, host),
  list_dag_files: async (args, host) => listDagFiles(args, host),
};

/** A DAG file the assistant named: inside the project, a file that exists. */
function dagFileOf(host: ToolHost, given: unknown): string {
  const file = projectPath(host.root, String(given));
  let isFile = false;
  try {
    isFile = statSync(file).isFile();
  } catch {
    // missing: said below
  }
  if (!isFile) throw new ToolError(`no such DAG file: ${String(given)}`, 'name a .py file relative to the project root; list_dag_files shows them', 'no-such-file');
  return file;
}

/** The runtime a DAG file runs in; a runtime file with errors refuses the work, the errors said at their lines. */
function usableRuntime(host: ToolHost, dagFile: string): EffectiveRuntime {
  const runtime = host.runtimeOf(dagFile);
  if (hasErrors(runtime.problems)) {
    const lines = [...runtime.problems].sort(compareProblems).map((p) => formatProblem(p, shownPath(host.root, p.file)));
    throw new ToolError(`the runtime files of ${shownPath(host.root, dagFile)} have errors:\n${lines.join('\n')}`,
      'fix the runtime files at those lines (resolve_runtime shows what applies); work in a broken runtime would not be the real one', 'bad-runtime');
  }
  return runtime;
}

function dateOf(args: Record<string, unknown>): string | undefined {
  if (args.date === undefined) return undefined;
  const problem = logicalDateProblem(String(args.date));
  if (problem) throw new ToolError(`date: ${problem}`, 'give the logical date as YYYY-MM-DD', 'bad-input');
  return String(args.date);
}

/** Engine work with its progress and notices: what the engine says besides the result is kept for the result. */
async function engineWork<T>(host: ToolHost, call: ToolCall, work: (engine: Engine, options: { signal?: AbortSignal; onProgress: (event: ProgressEvent) => void; onNotice: (message: string) => void }) => Promise<T>): Promise<{ value: T; engine: string; notices: string[] }> {
  const { engine, reason } = await host.engine();
  const notices: string[] = [];
  const value = await work(engine, {
    signal: call.signal,
    onProgress: (event) => call.onProgress?.(`${event.stage}: ${event.message}`),
    onNotice: (message) => void (notices.includes(message) || notices.push(message)),
  });
  return { value, engine: reason, notices };
}

/** The engine's first clause for a headline (`local runtime emulator (--engine local)`); the whole reason is in the structured content. */
function engineShort(reason: string): string {
  return reason.split(';')[0];
}

async function parseDagFile(args: Record<string, unknown>, host: ToolHost, call: ToolCall): Promise<ToolResult> {
  const dagFile = dagFileOf(host, args.path);
  const runtime = usableRuntime(host, dagFile);
  call.onProgress?.(`parse: ${shownPath(host.root, dagFile)}`);
  const { value: result, engine, notices } = await engineWork(host, call, (e, options) => e.parse({ dagFile, runtime, ...options }));
  return parseToolResult(host.root, dagFile, result, engine, notices);
}

/** A parse result for an assistant: problems at path:line:col as the CLI says them, then DAGs, tasks and edges. */
export function parseToolResult(root: string, dagFile: string, result: ParseResult, engine: string, notices: string[] = []): ToolResult {
  const show = (file: string) => shownPath(root, file);
  const problems = parseProblems(dagFile, result);
  // warnings raised inside Airflow or libraries are not the author's: counted, not listed (the structured result keeps them)
  const internal = result.warnings.filter((w) => w.internal);
  const shownProblems = problems.filter((p) => !(p.code === 'parse-warning' && internal.some((w) => w.file === p.file && w.line === p.line && p.message === `${w.category}: ${w.message}`)));
  const hidden = internal.length;
  const errors = problems.filter((p) => p.severity === 'error');
  const state = result.timedOut ? 'timed out' : errors.length ? `does not import (${errors.length} error${errors.length === 1 ? '' : 's'})` : 'imports cleanly';
  const lines = [`${show(dagFile)}: ${state} [Airflow ${result.airflowVersion}, Python ${result.pythonVersion}; ${engineShort(engine)}]`];
  for (const notice of notices) lines.push(`note: ${notice}`);
  for (const p of shownProblems) lines.push(`${show(p.file)}:${p.line ?? 1}:${p.column ?? 1}: ${p.severity}: ${p.message}`);
  if (hidden) lines.push(`(${hidden} warning${hidden === 1 ? '' : 's'} raised inside Airflow or libraries left out; they are in the structured content, marked internal)`);
  for (const error of result.importErrors) {
    if (error.traceback) lines.push('', `Traceback of ${show(error.file)}:${error.line ?? 1}:`, tail(error.traceback, 40));
  }
  for (const dag of result.dags) {
    lines.push('', `DAG ${dag.dagId}${dag.line ? ` (${show(dag.file ?? dagFile)}:${dag.line})` : ''}: schedule ${dag.schedule ?? 'None'}${dag.tags.length ? `, tags ${dag.tags.join(', ')}` : ''}, ${dag.tasks.length} task${dag.tasks.length === 1 ? '' : 's'}`);
    for (const task of dag.tasks) {
      const where = task.line ? ` at ${show(task.file ?? dag.file ?? dagFile)}:${task.line}` : '';
      const edges = task.downstream.length ? ` >> ${task.downstream.join(', ')}` : '';
      lines.push(`  ${task.taskId} (${task.operatorName ?? task.operator}${task.mapped ? ', mapped' : ''}${task.taskGroup ? `, group ${task.taskGroup}` : ''})${where}${edges}`);
    }
  }
  if (!result.dags.length && !errors.length) lines.push('', 'No DAG was defined by this file.');
  const structured = {
    file: show(dagFile),
    ok: !errors.length,
    airflowVersion: result.airflowVersion,
    pythonVersion: result.pythonVersion,
    engine,
    problems: problems.map((p) => ({ ...p, file: show(p.file), ...(p.related ? { related: { ...p.related, file: show(p.related.file) } } : {}) })),
    result: { ...result, output: undefined, dags: result.dags.map(({ serialized: _, ...dag }) => dag) },
  };
  return { text: lines.join('\n'), structured };
}

function tail(text: string, maxLines: number): string {
  const lines = text.trimEnd().split('\n');
  return lines.length > maxLines ? [`[... ${lines.length - maxLines} lines left out]`, ...lines.slice(-maxLines)].join('\n') : lines.join('\n');
}

/** The exception a run ended with, at the deepest frame inside the project (where the author can act). */
function exceptionOf(host: ToolHost, lines: readonly string[]): { message: string; file?: string; line?: number; function?: string } | undefined {
  const exception = lastException(lines);
  if (!exception) return undefined;
  const frames = exception.frames.filter((f) => isInsideProject(host.root, f.file));
  const frame = frames.at(-1) ?? exception.frames.at(-1);
  return { message: exception.message, ...(frame ? { file: shownPath(host.root, frame.file), line: frame.line, function: frame.name } : {}) };
}

function exceptionText(exception: ReturnType<typeof exceptionOf>): string[] {
  if (!exception) return [];
  return [`${exception.file ? `${exception.file}:${exception.line}:1: error: ` : 'error: '}${exception.message}${exception.function ? ` (in ${exception.function})` : ''}`];
}

async function runTask(args: Record<string, unknown>, host: ToolHost, call: ToolCall): Promise<ToolResult> {
  const dagFile = dagFileOf(host, args.dagFile);
  const date = dateOf(args);
  const runtime = usableRuntime(host, dagFile);
  const dagId = String(args.dagId);
  const taskId = String(args.taskId);
  const mapIndex = args.mapIndex as number | undefined;
  const log = new BoundedLog();
  const exceptionLines = new BoundedLog(400, 200_000);
  const { value: outcome, engine, notices } = await engineWork(host, call, (e, options) => e.run({
    dagFile, runtime, dagId, taskId, date, mapIndex, ...options,
    onLog: (line) => {
      log.push(line);
      exceptionLines.push(line);
    },
  }));
  const name = `${dagId}.${taskId}${mapIndex !== undefined ? `[${mapIndex}]` : ''}`;
  const state = outcome.exitCode === 0 ? 'success' : 'failed';
  const exception = outcome.exitCode === 0 ? undefined : exceptionOf(host, exceptionLines.kept());
  const text = [`${name}: ${state} in ${(outcome.durationMs / 1000).toFixed(1)}s [${engineShort(engine)}]`, ...notices.map((n) => `note: ${n}`), ...exceptionText(exception), '', 'Log (the end):', log.text()];
  return {
    text: text.join('\n'),
    structured: { dagFile: shownPath(host.root, dagFile), dagId, taskId, mapIndex: mapIndex ?? null, date: date ?? null, state, exitCode: outcome.exitCode, durationMs: outcome.durationMs, engine, exception: exception ?? null, log: log.summary() },
  };
}

async function testDag(args: Record<string, unknown>, host: ToolHost, call: ToolCall): Promise<ToolResult> {
  const dagFile = dagFileOf(host, args.dagFile);
  const date = dateOf(args);
  const conf = args.conf === undefined ? undefined : JSON.stringify(args.conf);
  const confProblem = conf === undefined ? undefined : dagRunConfProblem(conf);
  if (confProblem) throw new ToolError(`conf: ${confProblem}`, 'give the conf as a JSON object', 'bad-input');
  const runtime = usableRuntime(host, dagFile);
  const dagId = String(args.dagId);
  const log = new BoundedLog();
  const exceptionLines = new BoundedLog(400, 200_000);
  const tasks = new Map<string, TaskStateEvent>();
  // dag.test() runs one task instance at a time: the lines from one's start to the next one's are its own
  const linesOf = new Map<string, BoundedLog>();
  let current: BoundedLog | undefined;
  const { value: outcome, engine, notices } = await engineWork(host, call, (e, options) => e.testDag({
    dagFile, runtime, dagId, date, conf, ...options,
    onLog: (line) => {
      log.push(line);
      exceptionLines.push(line);
      current?.push(line);
    },
    onTask: (task) => {
      const name = taskInstanceName(task.taskId, task.mapIndex);
      tasks.set(name, task);
      if (!task.final && task.state === 'running') linesOf.set(name, (current = new BoundedLog(400, 200_000)));
      if (!task.final) call.onProgress?.(`${dagId}.${name}: ${task.state}`);
    },
  }));
  const failed = [...tasks.entries()].filter(([, t]) => isFailedState(t.state));
  // each failed task's own exception (a task that never ran, upstream failed, has none)
  const errors = failed.flatMap(([name, t]) => {
    const own = t.state === 'failed' ? exceptionOf(host, linesOf.get(name)?.kept() ?? []) : undefined;
    return own ? [{ task: name, exception: own }] : [];
  });
  const exception = outcome.exitCode === 0 ? undefined : errors.at(-1)?.exception ?? exceptionOf(host, exceptionLines.kept());
  const text = [`${dagId}: ${outcome.exitCode === 0 ? 'success' : 'failed'} in ${(outcome.durationMs / 1000).toFixed(1)}s [${engineShort(engine)}]`, ...notices.map((n) => `note: ${n}`)];
  if (tasks.size) text.push('', 'Tasks:', ...[...tasks.entries()].map(([name, t]) => `  ${name}: ${stateWords(t.state)}${t.durationMs !== undefined ? ` in ${(t.durationMs / 1000).toFixed(1)}s` : ''}`));
  if (failed.length) text.push('', `Failed: ${failed.map(([name, t]) => `${name} (${stateWords(t.state)})`).join(', ')}`);
  if (errors.length) text.push(...errors.flatMap(({ task, exception: own }) => exceptionText(own).map((line) => `  ${task}: ${line}`)));
  else text.push(...exceptionText(exception));
  text.push('', 'Log (the end):', log.text());
  return {
    text: text.join('\n'),
    structured: {
      dagFile: shownPath(host.root, dagFile), dagId, date: date ?? null, state: outcome.exitCode === 0 ? 'success' : 'failed', exitCode: outcome.exitCode, durationMs: outcome.durationMs, engine,
      tasks: [...tasks.entries()].map(([name, t]) => ({ task: name, taskId: t.taskId, mapIndex: t.mapIndex, state: t.state, durationMs: t.durationMs ?? null })),
      failed: failed.map(([name]) => name), errors, exception: exception ?? null, log: log.summary(),
    },
  };
}

async function renderTask(args: Record<string, unknown>, host: ToolHost, call: ToolCall): Promise<ToolResult> {
  const dagFile = dagFileOf(host, args.dagFile);
  const date = dateOf(args);
  const runtime = usableRuntime(host, dagFile);
  const subject = { dagFile, dagId: String(args.dagId), taskId: String(args.taskId), date, mapIndex: args.mapIndex as number | undefined };
  const log = new BoundedLog(100, 10_000);
  const { value: outcome, engine, notices } = await engineWork(host, call, (e, options) => e.render({ ...subject, runtime, ...options, onLog: (line) => line.trim() && log.push(line) }));
  const text = [`${subject.dagId}.${subject.taskId}: ${outcome.failure ? 'a template did not render' : `${outcome.fields.length} templated field${outcome.fields.length === 1 ? '' : 's'} rendered`} for ${date ?? 'now'} [${engineShort(engine)}]`, ...notices.map((n) => `note: ${n}`), ''];
  if (outcome.failure) text.push(templateFailureMessage(subject, outcome.failure));
  else text.push(...(outcome.fields.length ? renderedText(outcome) : ['This task has no templated fields.']));
  if (outcome.failure && log.kept().length) text.push('', 'Output while loading (the end):', log.text());
  return {
    text: text.join('\n'),
    structured: { dagFile: shownPath(host.root, dagFile), dagId: subject.dagId, taskId: subject.taskId, date: date ?? null, mapIndex: subject.mapIndex ?? null, engine, fields: outcome.fields, failure: outcome.failure ?? null },
  };
}

function resolveRuntimeTool(args: Record<string, unknown>, host: ToolHost): ToolResult {
  const dagFile = dagFileOf(host, args.dagFile);
  const runtime = host.runtimeOf(dagFile);
  const show = (file: string) => shownPath(host.root, file);
  const problems = [...runtime.problems].sort(compareProblems).map((p) => formatProblem(p, show(p.file)));
  const text = [effectiveRuntimeYaml(runtime, show)];
  if (problems.length) text.push('', 'Problems of the runtime files (values with errors were left out):', ...problems);
  return {
    text: text.join('\n'),
    structured: {
      dagFile: show(dagFile), runtimeFiles: runtime.files.map((f) => show(f.path)), runtime: redactedValues(runtime.values),
      sources: Object.fromEntries(Object.entries(runtime.sources).map(([key, source]) => [key, 'file' in source && source.file ? { ...source, file: show(source.file) } : source])),
      problems: runtime.problems.map((p) => ({ ...p, file: show(p.file) })),
    },
    ...(hasErrors(runtime.problems) ? { isError: true } : {}),
  };
}

function listDagFiles(args: Record<string, unknown>, host: ToolHost): ToolResult {
  const under = args.path === undefined ? host.root : projectPath(host.root, String(args.path));
  try {
    statSync(under);
  } catch {
    throw new ToolError(`no such file or folder: ${String(args.path)}`, 'name a folder relative to the project root, or none for the whole project', 'no-such-file');
  }
  const files = host.dagFilesUnder(under).filter((file) => isInsideProject(host.root, file)).sort();
  const entries = files.map((file) => {
    const runtime = host.runtimeOf(file);
    const values = runtime.values;
    return {
      file: shownPath(host.root, file),
      image: values.image ?? null,
      localPython: values.local?.python ? shownPath(host.root, values.local.python) : null,
      runtimeFiles: runtime.files.map((f) => shownPath(host.root, f.path)),
      runtimeErrors: runtime.problems.filter((p) => p.severity === 'error').length,
    };
  });
  const lines = [`${entries.length} DAG file${entries.length === 1 ? '' : 's'} under ${shownPath(host.root, under) === host.root ? 'the project' : shownPath(host.root, under)}:`];
  for (const e of entries) {
    const runtime = [e.image ? `image ${e.image}` : undefined, e.localPython ? `local python ${e.localPython}` : undefined].filter(Boolean).join(', ') || 'the default runtime';
    const from = e.runtimeFiles.length ? ` (from ${e.runtimeFiles.join(', ')})` : '';
    lines.push(`  ${e.file}: ${runtime}${from}${e.runtimeErrors ? `; its runtime files have ${e.runtimeErrors} error${e.runtimeErrors === 1 ? '' : 's'} (resolve_runtime says where)` : ''}`);
  }
  return { text: lines.join('\n'), structured: { root: host.root, files: entries } };
}
