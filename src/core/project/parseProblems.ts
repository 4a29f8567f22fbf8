import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { ImportErrorInfo, ParseResult } from '../harness/parseResult';
import { findProjectRoot } from '../workspace/root';
import { isUnwalkedFolder } from '../workspace/walk';

/** A problem a parse found, in the file where it really is (the DAG file or a helper module it imports). */
export interface ParseProblem {
  file: string;
  /** 1-based; null when the parse could not tell (shown at the top of the file). */
  line: number | null;
  column: number | null;
  severity: 'error' | 'warning';
  code: 'import-error' | 'import-error-elsewhere' | 'parse-timeout' | 'parse-warning';
  message: string;
  /** Another place that explains it: the helper's line for the DAG file's import, the DAG's line for a rejected argument. */
  related?: { file: string; line: number | null; message: string };
}

export interface ParseProblemOptions {
  /** Show warnings raised inside Airflow or libraries too (`internal`): hidden by default, as Airflow hides them. */
  allWarnings?: boolean;
  /** The project root, where a missing top-level package is looked for (default: found from the DAG file). */
  workspaceRoot?: string;
}

/**
 * The problems of one DAG file's parse, by file: the one rule from a parse result to problems, for the editor's
 * diagnostics and the CLI's text output alike.
 */
export function parseProblems(dagFile: string, result: ParseResult, options: ParseProblemOptions = {}): ParseProblem[] {
  const problems: ParseProblem[] = [];
  let root = options.workspaceRoot;
  for (const error of result.importErrors) {
    const hint = importHint(error, (root ??= findProjectRoot(dagFile)));
    const message = hint ? `${error.message} (${hint})` : error.message;
    const explained = error.related?.find((r) => r.file !== error.file) ?? error.related?.[0];
    problems.push({
      file: error.file, line: error.line, column: error.column, severity: 'error', code: 'import-error', message,
      ...(explained ? { related: { file: explained.file, line: explained.line, message: explained.message } } : {}),
    });
    if (error.file !== dagFile) {
      // The DAG file imports the broken module: say so where the author is looking, at the import.
      problems.push({
        file: dagFile, line: importerLine(error, dagFile), column: null, severity: 'error', code: 'import-error-elsewhere',
        message: `importing this DAG file failed in ${error.file}${error.line ? `:${error.line}` : ''}: ${message}`,
        related: { file: error.file, line: error.line, message },
      });
    }
  }
  if (result.timedOut) {
    problems.push({ file: dagFile, line: null, column: null, severity: 'error', code: 'parse-timeout', message: 'parsing this DAG file did not finish within timeouts.parse: it was stopped (look for slow top-level code)' });
  }
  for (const warning of result.warnings) {
    if (warning.internal && !options.allWarnings) continue;
    problems.push({ file: warning.file, line: warning.line, column: warning.column ?? null, severity: 'warning', code: 'parse-warning', message: `${warning.category}: ${warning.message}` });
  }
  return problems;
}

/** Warnings of a result raised inside Airflow or libraries: what the default view leaves out. */
export function hiddenWarnings(result: ParseResult, options: ParseProblemOptions = {}): number {
  return options.allWarnings ? 0 : result.warnings.filter((w) => w.internal).length;
}

/** Where the DAG file reached a failing helper: the harness's related entry, else the traceback's last frame in it. */
function importerLine(error: ImportErrorInfo, dagFile: string): number | null {
  return error.related?.find((r) => r.file === dagFile)?.line ?? frameLineIn(error.traceback, dagFile);
}

/** The line of the last traceback frame in `file`: where the DAG file reached the code that failed. */
export function frameLineIn(traceback: string | undefined, file: string): number | null {
  if (!traceback) return null;
  let line: number | null = null;
  const frame = /File "([^"]+)", line (\d+)/g;
  for (let match = frame.exec(traceback); match; match = frame.exec(traceback)) {
    if (match[1] === file) line = Number(match[2]);
  }
  return line;
}

const MISSING_TOP_LEVEL = /^ModuleNotFoundError: No module named '([A-Za-z_][\w]*)'$/;

/**
 * What to do when an import fails on a top-level package that is right there in the project (`from dags.common
 * import x` where only `dags/`'s contents are on sys.path): name `pythonPath`, the setting that puts its folder on
 * the runtime's sys.path. Undefined when the message is another one or no such folder exists.
 */
export function importHint(error: Pick<ImportErrorInfo, 'message'>, workspaceRoot: string): string | undefined {
  const name = MISSING_TOP_LEVEL.exec(error.message.trim())?.[1];
  if (!name) return undefined;
  const found = packageFolder(workspaceRoot, name);
  if (!found) return undefined;
  const holder = path.relative(workspaceRoot, path.dirname(found)) || '.';
  const shown = path.relative(workspaceRoot, found).split(path.sep).join('/');
  return `${shown}/ is in the project, but the folder that holds it is not on the runtime's sys.path: add pythonPath: ["${holder.split(path.sep).join('/')}"] to the airflow-runtime.yaml at the project root`;
}

/** The folder `name` at the project root or one level below it (src/, lib/...), never inside dependencies. */
function packageFolder(root: string, name: string): string | undefined {
  let entries: string[] = [];
  try {
    entries = readdirSync(root).filter((entry) => !isUnwalkedFolder(entry));
  } catch {
    return undefined;
  }
  return [path.join(root, name), ...entries.map((entry) => path.join(root, entry, name))].find(isFolder);
}

function isFolder(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}
