import { readFileSync } from 'node:fs';

/**
 * The parse result the harness writes (docs/contracts.md, "Parse result"), with paths as the host sees them. Its one
 * definition is media/parse-result.schema.json: these types and the harness's output are checked against it.
 */
export const PARSE_RESULT_FORMAT = 'airflow-runtime/parse-result@1';

export interface TaskInfo {
  taskId: string;
  operator: string;
  /** Airflow's `operator_name` (a @task's decorator name, a custom_operator_name). */
  operatorName?: string | null;
  file?: string | null;
  line: number | null;
  /**
   * For a task from a @task function called several times, or defined in another file than the DAG's (a shared
   * helper): the function's definition (`line` is the call in the DAG's file).
   */
  definitionLine?: number | null;
  /** The file of `definitionLine`. */
  definitionFile?: string | null;
  upstream: string[];
  downstream: string[];
  taskGroup: string | null;
  mapped: boolean;
  /** A mapped task over literal lists: how many map indexes it has (null: an upstream output decides). */
  mapCount?: number | null;
}

/** How a person knows a task's operator: `@task` (a decorator's name) rather than `_PythonDecoratedOperator`. */
export function operatorLabel(task: TaskInfo): string {
  return task.operatorName && task.operatorName !== task.operator ? task.operatorName : task.operator;
}

export interface DagInfo {
  dagId: string;
  file?: string;
  line: number | null;
  schedule: string | null;
  tags: string[];
  owner?: string | null;
  tasks: TaskInfo[];
  serialized?: unknown;
}

/** Another place that explains an error (the DAG whose edge closes a cycle). */
export interface RelatedLocation {
  file: string;
  line: number;
  message: string;
}

export interface ImportErrorInfo {
  file: string;
  line: number | null;
  column: number | null;
  message: string;
  traceback?: string;
  /** Added by the CLI: what to do, when the project says (a package folder that is not on sys.path: pythonPath). */
  hint?: string;
  /** Other places that explain it: the DAG file's import line for a helper's error, the DAG's line. */
  related?: RelatedLocation[];
}

export interface ParseWarningInfo {
  file: string;
  line: number | null;
  column?: number;
  category: string;
  message: string;
  /** Raised inside Airflow or a library, not by the user's code (engines may leave it out). */
  internal?: boolean;
  /** Where an internal warning was raised (`file:line`), when it was attributed to a user line. */
  origin?: string;
}

export interface ParseResult {
  format: string;
  file: string;
  dagsFolder?: string;
  airflowVersion: string;
  pythonVersion: string;
  durationMs: number;
  dags: DagInfo[];
  importErrors: ImportErrorInfo[];
  warnings: ParseWarningInfo[];
  timedOut?: boolean;
  output?: { bytes: number; truncated: boolean; tail: string };
  /** Added by the engine: which engine parsed, and how long the whole round trip took. */
  engine?: { kind: string; detail: string; totalMs: number };
}

/** Rewrites every path the result names (files of DAGs, tasks, errors, warnings, and paths inside tracebacks). */
export function mapResultPaths(result: ParseResult, toHost: (runtimePath: string) => string, rewriteText: (text: string) => string): ParseResult {
  const mapped: ParseResult = structuredClone(result);
  mapped.file = toHost(mapped.file);
  if (mapped.dagsFolder) mapped.dagsFolder = toHost(mapped.dagsFolder);
  for (const dag of mapped.dags) {
    if (dag.file) dag.file = toHost(dag.file);
    for (const task of dag.tasks) {
      if (task.file) task.file = toHost(task.file);
      if (task.definitionFile) task.definitionFile = toHost(task.definitionFile);
    }
  }
  for (const error of mapped.importErrors) {
    error.file = toHost(error.file);
    for (const related of error.related ?? []) related.file = toHost(related.file);
    error.message = rewriteText(error.message);
    if (error.traceback) error.traceback = rewriteText(error.traceback);
  }
  for (const warning of mapped.warnings) {
    warning.file = toHost(warning.file);
    warning.message = rewriteText(warning.message);
  }
  if (mapped.output) mapped.output.tail = rewriteText(mapped.output.tail);
  return mapped;
}

/** A result is a real parse result and not something else that happened to be JSON. */
export function isParseResult(value: unknown): value is ParseResult {
  const candidate = value as Partial<ParseResult> | null;
  return !!candidate && candidate.format === PARSE_RESULT_FORMAT && Array.isArray(candidate.dags) && Array.isArray(candidate.importErrors);
}

/** The result file the harness wrote, or undefined when there is none or it is not a parse result. */
export function readParseResult(file: string): ParseResult | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return isParseResult(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
