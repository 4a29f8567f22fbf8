import { statSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultJobs } from '../core/engine/capacity';
import { describeFailure, engineErrorOf } from '../core/engine/errors';
import type { ParseResult, TaskInfo } from '../core/harness/parseResult';
import { hiddenWarnings, importHint, type ParseProblem, parseProblems } from '../core/project/parseProblems';
import { type EngineChoice, selectEngine } from '../core/engine/select';
import type { Engine } from '../core/engine/types';
import { hasErrors, type Problem } from '../core/problems';
import { recordReportedAirflow } from '../core/runtime/reportedAirflow';
import { type DagFileJudge, findDagFiles, walkPythonFiles } from '../core/workspace/dagFiles';
import { DEPENDENCY_FOLDERS } from '../core/workspace/walk';
import { displayPath, formatProblems } from './display';
import { announcing } from './notices';
import { terminalProgress } from './progress';
import { cancelOnSignals } from './signals';
import { dagFileJudge, hostAccessOf, runtimeFor, type Where } from './runtimeFor';
import { EXIT, UsageError } from './usage';

export const PARSE_HELP = `Usage: airflow-runtime parse <path>... [--engine auto|docker|local] [--image IMG] [--format text|json] [--cold] [--jobs N] [--no-pre-import] [--all-warnings] [--verbose]

Parses DAG files (or every DAG file under the folders given) inside their runtime, with Airflow's own DagBag.
Text output: one line per problem, path:line:col: error|warning: message, then DAGs and tasks per file.

Options:
  --engine auto|docker|local   auto (default) uses Docker when reachable, else the local runtime emulator
  --image IMG                  use this image for every file, above every runtime file
  --format text|json           json prints the parse results
  --all-warnings               also print the warnings raised inside Airflow or libraries (hidden by default, as
                               Airflow hides them; the JSON keeps them, marked "internal": true)
  --verbose, -v                the whole output of a runtime's build (pip, apt-get, uv) as it comes, each line
                               after "| " (without it, a failed requirement is said at its line in one or two)
  --jobs N                     files parsed at once (default: what this machine holds: ${defaultJobs()} here)
  --cold                       a fresh container (or process) per file instead of one runtime per image
                               that imports Airflow once and parses each file in a forked child (the
                               default: as isolated from the other files, and much faster)
  --no-pre-import              the warm runtime does not import, before it forks, the installed modules the
                               DAG files import (providers, libraries; never a workspace module): each file's
                               child imports them itself (slower; for a library whose import must see what the
                               DAG file did before it); also the airflowRuntime.parse.preImport setting
  --workspace DIR              the project root (default: found from the files, the same from any folder: the nearest folder with .git, .vscode, .astro or dags/ beside include/ or plugins/, else the topmost airflow-runtime.yaml)
  --allow-host-access          let runtime files open the host (mounts and files outside the workspace, sockets,
                               network: host; a parse's network); also AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS=1

Ctrl-C or SIGTERM cancels: every container and process of the parse is stopped, nothing is left behind.

Exit codes: 0 parsed cleanly; 1 a DAG file failed to import; 2 bad usage, runtime file or engine, or cancelled.`;

interface FileOutcome {
  file: string;
  result?: ParseResult;
  error?: { code: string; message: string };
  problems: Problem[];
  /** What the parse found, by the rule the editor uses too (core/project/parseProblems). */
  found: ParseProblem[];
  /** Warnings raised inside Airflow or libraries that `found` leaves out. */
  hidden: number;
}

export async function parseCommand(args: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const options = parseOptions(args);
  if (!options) {
    out(PARSE_HELP);
    return EXIT.ok;
  }
  const { flags, positionals, jobs } = options;
  const cwd = process.cwd();
  const where = { cwd, workspace: flags.workspace, image: flags.image, hostAccess: hostAccessOf(flags['allow-host-access']) };
  const judge = dagFileJudge(where);
  const { files, missing } = findDagFiles(positionals, judge);
  if (missing.length) throw new UsageError(`no such file or folder: ${missing.join(', ')}`, 'parse');
  if (files.length === 0) {
    for (const line of whyNoDagFiles(positionals, judge, cwd)) err(line);
    return EXIT.ok;
  }

  const cancel = cancelOnSignals(err, 'stopping the parse and cleaning up');
  try {
    let selected;
    try {
      selected = await selectEngine(flags.engine as EngineChoice, { warm: !flags.cold, preImport: !flags['no-pre-import'] });
    } catch (error) {
      err(`airflow-runtime: ${describeFailure(error)}`);
      return EXIT.configOrInfra;
    }
    err(`engine: ${selected.reason}`);
    const engine = announcing(selected.engine, err);
    const keep = { keep: flags.format === 'json' ? 'all' : 'summary', allWarnings: !!flags['all-warnings'], buildOutput: flags.verbose ? err : undefined } as const;
    let outcomes: FileOutcome[];
    try {
      const parse = (list: string[]) => parseFiles(list, engine, jobs, cancel.signal, where, keep);
      outcomes = await parseAndRevise(files, parse, { positionals, where, cancelled: cancel.cancelled }, err);
    } finally {
      await engine.dispose();
    }
    if (cancel.cancelled()) {
      err(`cancelled: ${outcomes.filter((o) => o.result).length} of ${files.length} files parsed; every container and process of this parse was stopped`);
      return EXIT.configOrInfra;
    }
    return report(outcomes, flags.format, cwd, out, err);
  } finally {
    cancel.dispose();
  }
}

/** The command line's flags and paths, each checked (a UsageError says what is wrong); undefined for --help. */
function parseOptions(args: string[]) {
  const { values: flags, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: {
      engine: { type: 'string', default: 'auto' }, image: { type: 'string' }, format: { type: 'string', default: 'text' },
      jobs: { type: 'string' }, workspace: { type: 'string' }, cold: { type: 'boolean' }, 'allow-host-access': { type: 'boolean' },
      'all-warnings': { type: 'boolean' }, 'no-pre-import': { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' },
      // warm is the default now; --warm is still accepted so that scripts written for it keep working
      warm: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (flags.help) return undefined;
  if (!['auto', 'docker', 'local'].includes(flags.engine!)) throw new UsageError(`--engine must be auto, docker or local, not "${flags.engine}"`, 'parse');
  if (flags.format !== 'text' && flags.format !== 'json') throw new UsageError(`--format must be text or json, not "${flags.format}"`, 'parse');
  if (flags.cold && flags.warm) throw new UsageError('--cold and --warm contradict each other (warm is the default)', 'parse');
  if (positionals.length === 0) throw new UsageError('parse needs at least one DAG file or folder', 'parse');
  const jobs = flags.jobs === undefined ? defaultJobs() : Number(flags.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`--jobs must be a whole number of at least 1, not "${flags.jobs}"`, 'parse');
  return { flags, positionals, jobs };
}

/**
 * Parses `files`, then makes the list of DAG files again: the rule for which files are DAG files was the runtimes'
 * word where they had answered before, else a guess from their tags; now that each has answered, a list made on a
 * wrong guess is made again, and what it adds is parsed too (an Airflow 3 image tagged `:stable` and its asset-only
 * files), what it drops left out.
 */
async function parseAndRevise(
  files: string[],
  parse: (files: string[]) => Promise<FileOutcome[]>,
  { positionals, where, cancelled }: { positionals: string[]; where: Where; cancelled: () => boolean },
  err: (line: string) => void,
): Promise<FileOutcome[]> {
  const outcomes = await parse(files);
  const { files: revised, notes: revisedNotes } = findDagFiles(positionals, dagFileJudge(where));
  // notes on files named by hand, as the runtime's own version judges them
  for (const { file, note } of revisedNotes) err(`${displayPath(file, where.cwd)}: note: ${note}`);
  const added = revised.filter((file) => !files.includes(file));
  const dropped = new Set(files.filter((file) => !revised.includes(file)));
  for (const file of added) err(`${displayPath(file, where.cwd)}: note: a DAG file for the Airflow its runtime reported (its image's tag suggested another): parsed too`);
  for (const file of dropped) err(`${displayPath(file, where.cwd)}: note: not a DAG file for the Airflow its runtime reported: left out`);
  if (added.length && !cancelled()) outcomes.push(...await parse(added));
  return outcomes.filter((o) => !dropped.has(o.file));
}

/** Parses `files` with `jobs` in flight; a file whose runtime files have errors is not parsed (they are its problems). */
async function parseFiles(files: string[], engine: Engine, jobs: number, signal: AbortSignal, where: Where, how: { keep: 'all' | 'summary'; allWarnings: boolean; buildOutput?: (line: string) => void }): Promise<FileOutcome[]> {
  const progress = terminalProgress();
  const onBuildOutput = how.buildOutput && ((line: string) => { progress.clear(); how.buildOutput!(`| ${line}`); });
  const outcomes: FileOutcome[] = [];
  let next = 0;
  const worker = async () => {
    while (next < files.length && !signal.aborted) {
      const file = files[next++];
      const runtime = runtimeFor(file, where);
      const outcome: FileOutcome = { file, problems: runtime.problems, found: [], hidden: 0 };
      if (hasErrors(runtime.problems)) {
        // Parsing with what is left of a broken runtime (the default image, say) would be a parse in the wrong runtime.
        outcome.error = { code: 'bad-runtime', message: 'fix the errors of its runtime files (above) first' };
      } else {
        try {
          const result = await engine.parse({ dagFile: file, runtime, onProgress: progress.report, onBuildOutput, signal });
          recordReportedAirflow(runtime.values, result.airflowVersion);
          const options = { allWarnings: how.allWarnings, workspaceRoot: runtime.workspaceRoot };
          outcome.found = parseProblems(file, result, options);
          outcome.hidden = hiddenWarnings(result, options);
          outcome.result = how.keep === 'all' ? withHints(result, runtime.workspaceRoot) : summaryOf(result);
        } catch (error) {
          if (signal.aborted) break;
          const failure = engineErrorOf(error);
          // a failure at a line of the user's files (a requirement the runtime's build could not install): said there
          if (failure.problems?.length) outcome.problems = [...outcome.problems, ...failure.problems];
          outcome.error = { code: failure.code, message: failure.problems?.length ? `its runtime could not be built (above); ${failure.hint ?? ''}` : describeFailure(error) };
        }
      }
      outcomes.push(outcome);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(jobs, files.length) }, worker));
  } finally {
    progress.clear();
  }
  return outcomes;
}

/** The result as JSON shows it: import errors that a pythonPath would fix say so (`hint`). */
function withHints(result: ParseResult, workspaceRoot: string): ParseResult {
  const importErrors = result.importErrors.map((error) => {
    const hint = importHint(error, workspaceRoot);
    return hint ? { ...error, hint } : error;
  });
  return { ...result, importErrors };
}

/** What the text output needs of a result: the CLI's memory stays flat with the number of files. */
function summaryOf(result: ParseResult): ParseResult {
  return {
    ...result,
    output: result.output && { ...result.output, tail: '' },
    importErrors: result.importErrors.map(({ traceback: _, related: __, ...error }) => error),
    dags: result.dags.map((dag) => ({ ...dag, serialized: undefined, tasks: dag.tasks.map(({ taskId }) => ({ taskId }) as TaskInfo) })),
  };
}

function report(outcomes: FileOutcome[], format: string | undefined, cwd: string, out: (line: string) => void, err: (line: string) => void): number {
  outcomes.sort((a, b) => a.file.localeCompare(b.file));

  if (format === 'json') {
    out(JSON.stringify(outcomes.map((o) => o.result ?? { file: o.file, error: o.error, runtimeProblems: o.problems }), null, 2));
  } else {
    printText(outcomes, cwd, out, err);
  }
  const configProblems = outcomes.some((o) => hasErrors(o.problems));
  if (configProblems || outcomes.some((o) => o.error)) return EXIT.configOrInfra;
  return outcomes.some((o) => o.result!.importErrors.length > 0 || o.result!.timedOut) ? EXIT.userFailure : EXIT.ok;
}

function printText(outcomes: FileOutcome[], cwd: string, out: (line: string) => void, err: (line: string) => void): void {
  const runtimeProblems = new Map<string, Problem>();
  for (const outcome of outcomes) for (const p of outcome.problems) runtimeProblems.set(`${p.file}:${p.start.line}:${p.start.column}:${p.message}`, p);
  for (const line of formatProblems([...runtimeProblems.values()], cwd)) out(line);
  for (const line of parseProblemLines(outcomes, cwd)) out(line);
  let dags = 0;
  let tasks = 0;
  let failed = 0;
  for (const outcome of outcomes) {
    const name = displayPath(outcome.file, cwd);
    if (outcome.error) {
      failed++;
      err(`${name}: not parsed: ${outcome.error.message}`);
      continue;
    }
    const result = outcome.result!;
    const taskCount = result.dags.reduce((n, d) => n + d.tasks.length, 0);
    dags += result.dags.length;
    tasks += taskCount;
    if (result.importErrors.length || result.timedOut) failed++;
    const state = result.timedOut ? 'timed out' : result.importErrors.length ? `${result.importErrors.length} import error${result.importErrors.length === 1 ? '' : 's'}` : 'ok';
    const ids = result.dags.map((d) => `${d.dagId} (${d.tasks.length} task${d.tasks.length === 1 ? '' : 's'})`).join(', ');
    err(`${name}: ${state}${ids ? `: ${ids}` : ''} [airflow ${result.airflowVersion}, ${(result.engine?.totalMs ?? result.durationMs) / 1000}s]`);
  }
  err(`${outcomes.length} file${outcomes.length === 1 ? '' : 's'}: ${dags} DAG${dags === 1 ? '' : 's'}, ${tasks} task${tasks === 1 ? '' : 's'}, ${failed} with problems`);
  const hidden = outcomes.reduce((n, o) => n + o.hidden, 0);
  if (hidden) err(`${hidden} warning${hidden === 1 ? '' : 's'} raised inside Airflow or libraries not shown (--all-warnings shows them)`);
}

/**
 * The problems of the parses, as the parse rule (parseProblems) gives them to the editor too, one clickable
 * `path:line:col: severity: message` each. A helper module that fails for several DAG files is said once, at its
 * line, naming its importers; each DAG file then gets a line at its import.
 */
export function parseProblemLines(outcomes: readonly Pick<FileOutcome, 'file' | 'found'>[], cwd: string): string[] {
  const at = (file: string, line: number | null, column?: number | null) => `${displayPath(file, cwd)}:${line ?? 1}:${column ?? 1}`;
  const keyOf = (p: { file: string; line: number | null; message: string }) => `${p.file}:${p.line}:${p.message}`;
  const importers = new Map<string, string[]>();
  for (const { found } of outcomes) {
    for (const p of found) {
      if (p.code === 'import-error-elsewhere' && p.related) importers.set(keyOf(p.related), [...(importers.get(keyOf(p.related)) ?? []), `${displayPath(p.file, cwd)}:${p.line ?? 1}`]);
    }
  }
  const lines: string[] = [];
  const said = new Set<string>();
  for (const { file, found } of outcomes) {
    for (const p of found) {
      if (p.code === 'import-error-elsewhere') {
        lines.push(`${at(p.file, p.line, p.column)}: error: the import of ${displayPath(p.related!.file, cwd)} failed (above)`);
        continue;
      }
      const by = p.code === 'import-error' && p.file !== file ? importers.get(keyOf(p)) : undefined;
      if (by) {
        if (said.has(keyOf(p))) continue;
        said.add(keyOf(p));
      }
      lines.push(`${at(p.file, p.line, p.column)}: ${p.severity}: ${p.message}${by ? ` (imported by ${by.join(', ')})` : ''}`);
    }
  }
  return lines;
}

const MAX_LISTED = 10;

/**
 * "No DAG files" said with what was looked at: how many .py files, and which rule skipped each (the safe-mode
 * words, an .airflowignore, the DAGs folder), or that there were none at all; and the folders not walked.
 */
export function whyNoDagFiles(paths: readonly string[], judge: DagFileJudge, cwd: string): string[] {
  const skippedFiles: string[] = [];
  const skippedFolders: string[] = [];
  let looked = 0;
  const walk = (dir: string) => walkPythonFiles(dir, judge, (file) => {
    looked++;
    const verdict = judge.verdict(file);
    if (!verdict.isDag) skippedFiles.push(`${displayPath(file, cwd)}: ${verdict.reason}`);
  }, (folder, name) => {
    // hidden folders (.git, .vscode) go unsaid: nobody keeps DAGs there
    if (!name.startsWith('.')) skippedFolders.push(`${displayPath(folder, cwd)}/ (${DEPENDENCY_FOLDERS.has(name) ? 'a dependency folder' : 'an .airflowignore excludes it'})`);
  });
  for (const given of paths) {
    const absolute = path.resolve(cwd, given);
    try {
      if (statSync(absolute).isDirectory()) walk(absolute);
    } catch {
      // missing paths were refused before
    }
  }
  const where = paths.join(', ');
  const lines = looked === 0
    ? [`no DAG files found in ${where}: it holds no .py files${skippedFolders.length ? ' outside the folders below' : ''} (hidden folders are not looked into)`]
    : [`no DAG files found in ${where}: ${looked} .py file${looked === 1 ? '' : 's'} looked at, none of them a DAG file as Airflow finds them (a .py file in the DAGs folder that mentions "airflow" and "dag", or "asset" on Airflow 3, and that no .airflowignore excludes):`];
  lines.push(...skippedFiles.slice(0, MAX_LISTED).map((line) => `  ${line}`));
  if (skippedFiles.length > MAX_LISTED) lines.push(`  ... and ${skippedFiles.length - MAX_LISTED} more`);
  if (skippedFolders.length) {
    lines.push(`  not looked into: ${skippedFolders.slice(0, MAX_LISTED).join(', ')}${skippedFolders.length > MAX_LISTED ? `, and ${skippedFolders.length - MAX_LISTED} more` : ''}`);
  }
  return lines;
}
