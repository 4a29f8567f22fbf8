/** A complaint about a file, at a place a person can jump to. Lines and columns are 1-based. */
export type Severity = 'error' | 'warning';

export interface Position {
  line: number;
  column: number;
}

export type ProblemCode =
  | 'yaml-syntax'
  | 'empty-file'
  | 'not-a-mapping'
  | 'unknown-key'
  | 'wrong-type'
  | 'bad-value'
  | 'missing-key'
  | 'bad-duration'
  | 'bad-size'
  | 'missing-path'
  | 'outside-workspace'
  | 'host-access'
  | 'conflict'
  | 'unreadable-file';

export interface Problem {
  file: string;
  severity: Severity;
  code: ProblemCode;
  message: string;
  start: Position;
  end: Position;
  /** Text that would fix it in place of start..end, best first (a did-you-mean key, an allowed value): quick fixes. */
  replacements?: string[];
}

export const FILE_START: Position = { line: 1, column: 1 };

/** `path:line:col: severity: message`, the shape terminals and VS Code problem matchers make clickable. */
export function formatProblem(problem: Problem, displayPath: string = problem.file): string {
  return `${displayPath}:${problem.start.line}:${problem.start.column}: ${problem.severity}: ${problem.message}`;
}

export function hasErrors(problems: readonly Problem[]): boolean {
  return problems.some((p) => p.severity === 'error');
}

export function compareProblems(a: Problem, b: Problem): number {
  return a.file.localeCompare(b.file) || a.start.line - b.start.line || a.start.column - b.start.column;
}
