import * as path from 'node:path';
import { compareProblems, formatProblem, type Problem } from '../core/problems';

/** Paths as the user typed them: relative to the current folder when below it. */
export function displayPath(file: string, cwd: string = process.cwd()): string {
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

export function formatProblems(problems: readonly Problem[], cwd?: string): string[] {
  return [...problems].sort(compareProblems).map((p) => formatProblem(p, displayPath(p.file, cwd)));
}

export function countProblems(problems: readonly Problem[]): string {
  const errors = problems.filter((p) => p.severity === 'error').length;
  const warnings = problems.length - errors;
  return `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
}
