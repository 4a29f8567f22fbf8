import { readFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { whatToDoText } from '../core/engine/errors';
import type { ParseResult } from '../core/harness/parseResult';
import { type ParseProblem, parseProblems } from '../core/project/parseProblems';
import type { Project } from './project';
import { SECTION } from './settings';

/** `airflowRuntime.allWarnings`: warnings raised inside Airflow or libraries are shown too (off: as Airflow shows them). */
function allWarnings(): boolean {
  return vscode.workspace.getConfiguration(SECTION).get<boolean>('allWarnings', false);
}

/**
 * Problems found by parses, in their own collection. Each DAG file's parse replaces what that parse said
 * before, in every file it named (a helper module too), so a fixed, deleted or renamed file leaves nothing stale.
 * A helper that fails for several DAG files is one diagnostic there, related to each DAG file's import line.
 */
export function registerParseDiagnostics(context: vscode.ExtensionContext, project: Project): void {
  const collection = vscode.languages.createDiagnosticCollection('airflow-runtime-parse');
  const byDagFile = new Map<string, Map<string, vscode.Diagnostic[]>>();
  const results = new Map<string, ParseResult>();

  const publish = (dagFile: string, problems: ParseProblem[] | undefined) => {
    const before = byDagFile.get(dagFile);
    const after = new Map<string, vscode.Diagnostic[]>();
    for (const problem of problems ?? []) after.set(problem.file, [...(after.get(problem.file) ?? []), toDiagnostic(problem)]);
    if (after.size) byDagFile.set(dagFile, after);
    else byDagFile.delete(dagFile);
    for (const file of new Set([...(before?.keys() ?? []), ...after.keys()])) {
      const all = [...byDagFile.values()].flatMap((contributions) => contributions.get(file) ?? []);
      collection.set(vscode.Uri.file(file), merged(all));
    }
  };

  context.subscriptions.push(
    collection,
    project.onDidParse(({ file, result }) => {
      results.set(file, result);
      publish(file, parseProblems(file, result, { allWarnings: allWarnings() }));
    }),
    project.onDidForget((file) => {
      results.delete(file);
      publish(file, undefined);
      collection.delete(vscode.Uri.file(file));
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (!event.affectsConfiguration(`${SECTION}.allWarnings`)) return;
      for (const [file, result] of results) publish(file, parseProblems(file, result, { allWarnings: allWarnings() }));
    }),
  );
}

/** The runtime value an engine failure is about, by its code: where the Problems entry of the runtime file points. */
const FAILURE_KEYS: Record<string, string> = { 'image-missing': 'image', 'image-pull-failed': 'image', 'image-build-failed': 'build', 'out-of-memory': 'resources.memory', 'start-timeout': 'timeouts.start' };

/**
 * Engine problems of parses (a missing image, an unreachable engine) in the Problems panel, in their own
 * collection: on the DAG file, and on the runtime file's line the problem is about when one says it. Gone when
 * the file parses, its runtime changes, or it leaves the workspace.
 */
export function registerEngineDiagnostics(context: vscode.ExtensionContext, project: Project): void {
  const collection = vscode.languages.createDiagnosticCollection('airflow-runtime-engine');
  const byDagFile = new Map<string, Map<string, vscode.Diagnostic[]>>();
  const publish = (dagFile: string) => {
    const failure = project.parser.states.get(dagFile)?.failure;
    const before = byDagFile.get(dagFile);
    const after = new Map<string, vscode.Diagnostic[]>();
    if (failure) {
      const text = `not parsed: ${whatToDoText(failure, 'inline')}`;
      const add = (file: string, line: number, column = 0, message = text) => {
        const diagnostic = new vscode.Diagnostic(rangeOf({ file, line: line + 1, column: column + 1 }), message, vscode.DiagnosticSeverity.Error);
        diagnostic.source = 'airflow-runtime';
        diagnostic.code = failure.code;
        after.set(file, [...(after.get(file) ?? []), diagnostic]);
      };
      add(dagFile, 0);
      const key = FAILURE_KEYS[failure.code];
      const source = key ? project.runtimes.runtimeOf(dagFile).sources[key] : undefined;
      if (source?.kind === 'file') add(source.file, source.line - 1, source.column - 1);
      // a requirement the runtime's build could not install: at its line of the requirements file
      for (const problem of failure.problems ?? []) add(problem.file, problem.start.line - 1, problem.start.column - 1, problem.message);
    }
    if (after.size) byDagFile.set(dagFile, after);
    else byDagFile.delete(dagFile);
    for (const file of new Set([...(before?.keys() ?? []), ...after.keys()])) {
      collection.set(vscode.Uri.file(file), [...byDagFile.values()].flatMap((contributions) => contributions.get(file) ?? []));
    }
  };
  context.subscriptions.push(
    collection,
    project.parser.states.onDidChange((files) => files.forEach(publish)),
    project.onDidForget(publish),
  );
}

function toDiagnostic(problem: ParseProblem): vscode.Diagnostic {
  const diagnostic = new vscode.Diagnostic(rangeOf(problem), problem.message, problem.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
  diagnostic.source = 'airflow-runtime';
  diagnostic.code = problem.code;
  if (problem.related) {
    diagnostic.relatedInformation = [new vscode.DiagnosticRelatedInformation(
      new vscode.Location(vscode.Uri.file(problem.related.file), new vscode.Position(Math.max(0, (problem.related.line ?? 1) - 1), 0)),
      problem.related.message,
    )];
  }
  return diagnostic;
}

/** The same diagnostic from several DAG files' parses (a failing helper's): one, with every related place. */
function merged(diagnostics: vscode.Diagnostic[]): vscode.Diagnostic[] {
  const byKey = new Map<string, vscode.Diagnostic>();
  for (const diagnostic of diagnostics) {
    const key = `${diagnostic.range.start.line}:${diagnostic.range.start.character}:${diagnostic.severity}:${diagnostic.message}`;
    const first = byKey.get(key);
    if (!first) {
      byKey.set(key, diagnostic);
      continue;
    }
    const seen = new Set((first.relatedInformation ?? []).map((r) => `${r.location.uri.fsPath}:${r.location.range.start.line}`));
    const more = (diagnostic.relatedInformation ?? []).filter((r) => !seen.has(`${r.location.uri.fsPath}:${r.location.range.start.line}`));
    if (!more.length) continue;
    // a copy: the diagnostics kept per DAG file stay as that file's parse made them
    const copy = new vscode.Diagnostic(first.range, first.message, first.severity);
    copy.source = first.source;
    copy.code = first.code;
    copy.relatedInformation = [...(first.relatedInformation ?? []), ...more];
    byKey.set(key, copy);
  }
  return [...byKey.values()];
}

/** The problem's line from its first non-blank character (or its column) to its end, as on disk. */
function rangeOf(problem: Pick<ParseProblem, 'file' | 'line' | 'column'>): vscode.Range {
  const line = Math.max(0, (problem.line ?? 1) - 1);
  let text = '';
  try {
    text = readFileSync(problem.file, 'utf8').split(/\r?\n/)[line] ?? '';
  } catch {
    // The file may be gone; the range still marks the line.
  }
  const firstNonBlank = text.length - text.trimStart().length;
  const start = problem.column && problem.column > 1 ? Math.min(problem.column - 1, text.length) : firstNonBlank;
  return new vscode.Range(line, start, line, Math.max(start + 1, text.trimEnd().length));
}
