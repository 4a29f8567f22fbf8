import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import * as path from 'node:path';
import ignore from 'ignore';
import { isInside } from '../runtime/checks';
import { declaredAirflowOf } from '../runtime/declaredAirflow';
import { reportedAirflowOf } from '../runtime/reportedAirflow';
import type { RuntimeValues } from '../runtime/values';
import { hostDagRoot } from './projectLayout';
import { isUnwalkedFolder, walkFiles } from './walk';

/**
 * Which files are DAG files: Airflow's own rule, in one place for the CLI and the extension (docs/contracts.md,
 * "Which files are DAG files"). A `.py` file in a DAGs folder that
 * - is not excluded by an `.airflowignore` in its folder or above (up to the DAGs folder), in the syntax
 *   `[core] dag_ignore_file_syntax` says (`regexp` by default on Airflow 2, `glob` on Airflow 3);
 * - mentions "airflow" and "dag" (Airflow 2) or "airflow" and ("dag" or "asset") (Airflow 3), unless
 *   `[core] dag_discovery_safe_mode` is off.
 * A project with a `dags/` folder has its DAG files there only: `include/`, `plugins/` and `tests/` beside it
 * are not in Airflow's DAGs folder.
 */

export type AirflowMajor = 2 | 3;
export type IgnoreSyntax = 'regexp' | 'glob';

export interface DagFileRule {
  airflowMajor: AirflowMajor;
  ignoreSyntax: IgnoreSyntax;
  safeMode: boolean;
}

/** Airflow reads the whole file; a DAG file larger than this is read this far. */
const HEURISTIC_BYTES = 8 * 1024 * 1024;

/**
 * Airflow's safe-mode heuristic (`might_contain_dag_via_default_heuristic`) for this Airflow major, on one
 * read of the file: 'empty' when that read found nothing (an empty file, or one an editor is saving: a save
 * truncates before it writes, and a size taken before the read cannot tell).
 */
export function mightContainDag(file: string, major: AirflowMajor): boolean | 'empty' {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(Math.min(HEURISTIC_BYTES, Math.max(4096, fstatSync(fd).size)));
    const read = readSync(fd, buffer, 0, buffer.length, 0);
    if (read === 0) return 'empty';
    const text = buffer.subarray(0, read).toString('latin1').toLowerCase();
    if (!text.includes('airflow')) return false;
    return text.includes('dag') || (major >= 3 && text.includes('asset'));
  } finally {
    closeSync(fd);
  }
}

/**
 * The Airflow major a runtime runs: what the runtime itself reported the last time it ran (reportedAirflow.ts),
 * and only before it ever ran, a guess from its values: the image's tag (`apache/airflow:3.1.2`, Astro Runtime's
 * `3.0-1`; older Astro Runtime tags 4 to 12 are Airflow 2), else the Airflow pin of `local.requirements`, else the
 * default image's (Airflow 2). A file list made on a guess is revised when the runtime answers (the CLI's parse,
 * the editor's project).
 */
export function airflowMajorOf(values: RuntimeValues, readText: (file: string) => string | undefined = readQuietly): AirflowMajor {
  const reported = reportedAirflowOf(values);
  if (reported) return Number(reported.split('.')[0]) >= 3 ? 3 : 2;
  return guessedAirflowMajorOf(values, readText);
}

/** The guess alone, from the runtime's values: for a runtime that never answered. */
export function guessedAirflowMajorOf(values: RuntimeValues, readText: (file: string) => string | undefined = readQuietly): AirflowMajor {
  // what the runtime files declare (`apache/airflow:slim-3.0.6-python3.12`, Astro Runtime, a requirements pin) first
  const declared = declaredAirflowOf(values, readText);
  if (declared) return Number(declared.version.split('.')[0]) >= 3 ? 3 : 2;
  const tag = values.image?.split('/').pop()?.split(':')[1];
  const first = tag ? Number(/^v?(\d+)/.exec(tag)?.[1]) : NaN;
  if (first === 3) return 3;
  if (Number.isFinite(first) && first >= 2) return 2;
  const requirements = values.local?.requirements ? readText(values.local.requirements) : undefined;
  const pinned = requirements && /^\s*apache-airflow(?:-core)?(?:\[[^\]]*\])?\s*==\s*(\d+)/im.exec(requirements);
  if (pinned) return Number(pinned[1]) >= 3 ? 3 : 2;
  return 2;
}

/** The rule for files of a runtime: its Airflow major, and `[core]` settings from `airflowConfig`. */
export function dagFileRuleOf(values: RuntimeValues, readText: (file: string) => string | undefined = readQuietly): DagFileRule {
  const guessed = airflowMajorOf(values, readText);
  // Known: the runtime answered before, or its tag names a version. Else Airflow 3's safe-mode words (a superset
  // of 2's) until it answers, so that no asset-only file is lost to a guess; the list is revised then.
  const tag = values.image?.split('/').pop()?.split(':')[1] ?? '';
  const known = reportedAirflowOf(values) !== undefined || declaredAirflowOf(values, readText) !== undefined || /^v?[23]\.\d+\.\d+/.test(tag);
  const airflowMajor: AirflowMajor = known ? guessed : 3;
  const core = Object.fromEntries(Object.entries(values.airflowConfig?.core ?? {}).map(([k, v]) => [k.toLowerCase(), String(v).toLowerCase()]));
  const syntax = core.dag_ignore_file_syntax;
  return {
    airflowMajor,
    ignoreSyntax: syntax === 'glob' || syntax === 'regexp' ? syntax : guessed >= 3 ? 'glob' : 'regexp',
    safeMode: !['false', '0', 'no', 'off'].includes(core.dag_discovery_safe_mode ?? 'true'),
  };
}

function readQuietly(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

interface IgnoreLine {
  pattern: string;
  file: string;
  line: number;
}

/** Where a file was excluded: the `.airflowignore` line that did it. */
export interface IgnoredBy {
  file: string;
  line: number;
  pattern: string;
}

/**
 * The `.airflowignore` files of one DAGs folder, read once each, matched as Airflow's
 * `find_path_from_directory` does: patterns of a folder's file apply to it and below; regexp patterns
 * search the path relative to the DAGs folder; glob patterns are gitignore lines, anchored to their file's
 * folder when they hold a `/`, else matched against the name, the last match deciding (`!` re-includes).
 */
export class AirflowIgnore {
  private readonly own = new Map<string, IgnoreLine[]>();

  constructor(readonly dagRoot: string) {}

  /** The line that excludes `absolute` (a file, or a folder with isFolder), or undefined. */
  excludedBy(absolute: string, isFolder: boolean, syntax: IgnoreSyntax): IgnoredBy | undefined {
    if (!isInside(this.dagRoot, absolute) || absolute === this.dagRoot) return undefined;
    const lines: IgnoreLine[] = [];
    for (let dir = path.dirname(absolute); ; dir = path.dirname(dir)) {
      lines.unshift(...this.linesOf(dir));
      if (dir === this.dagRoot || path.dirname(dir) === dir) break;
    }
    return syntax === 'regexp' ? this.regexp(absolute, lines) : glob(absolute, isFolder, lines);
  }

  private regexp(absolute: string, lines: IgnoreLine[]): IgnoredBy | undefined {
    const relative = path.relative(this.dagRoot, absolute).split(path.sep).join('/');
    for (const entry of lines) {
      let pattern: RegExp;
      try {
        pattern = new RegExp(entry.pattern);
      } catch {
        continue; // Airflow logs an invalid pattern and goes on
      }
      if (pattern.test(relative)) return entry;
    }
    return undefined;
  }

  private linesOf(dir: string): IgnoreLine[] {
    let lines = this.own.get(dir);
    if (!lines) {
      lines = [];
      const file = path.join(dir, '.airflowignore');
      const text = readQuietly(file);
      text?.split('\n').forEach((raw, index) => {
        const pattern = raw.replace(/\s*#.*/, '').replace(/\r$/, '');
        if (pattern) lines!.push({ pattern, file, line: index + 1 });
      });
      this.own.set(dir, lines);
    }
    return lines;
  }
}

function glob(absolute: string, isFolder: boolean, lines: IgnoreLine[]): IgnoredBy | undefined {
  let decided: IgnoredBy | undefined;
  for (const entry of lines) {
    const raw = entry.pattern;
    if (raw.trim() === '/') continue;
    const negated = raw.startsWith('!');
    const body = negated ? raw.slice(1) : raw;
    if (body.trimEnd().endsWith('/') && !isFolder) continue;
    const anchored = body.startsWith('/') || body.replace(/\/+\s*$/, '').includes('/');
    const relative = anchored ? path.relative(path.dirname(entry.file), absolute).split(path.sep).join('/') : path.basename(absolute);
    if (!relative || relative.startsWith('..')) continue;
    const matcher = ignore({ allowRelativePaths: true }).add(body);
    if (matcher.ignores(isFolder ? `${relative}/` : relative)) decided = negated ? undefined : entry;
  }
  return decided;
}

/** `empty`: the safe-mode read found nothing (see mightContainDag). */
export type DagFileVerdict = { isDag: true } | { isDag: false; reason: string; empty?: boolean };

/** Caches of one walk or one editor session: ignore files by DAGs folder, project folders. */
export class DagFileJudge {
  private readonly ignores = new Map<string, AirflowIgnore>();
  private readonly dagsFolders = new Map<string, boolean>();

  constructor(private readonly workspaceRootOf: (file: string) => string, private readonly ruleFor: (folder: string) => DagFileRule) {}

  /** Whether Airflow would parse this file, and if not, why (for a note beside a file the user named). */
  verdict(file: string): DagFileVerdict {
    const absolute = path.resolve(file);
    if (!absolute.endsWith('.py')) return { isDag: false, reason: 'not a .py file' };
    const workspaceRoot = this.workspaceRootOf(absolute);
    const dagRoot = hostDagRoot(absolute, workspaceRoot);
    const outside = this.outsideDagsFolder(absolute, dagRoot, workspaceRoot);
    if (outside) return { isDag: false, reason: `it is outside the project's DAGs folder ${outside}` };
    const rule = this.ruleFor(path.dirname(absolute));
    const ignored = this.excludedBy(absolute, false, dagRoot, rule);
    if (ignored) return { isDag: false, reason: `${ignored.file}:${ignored.line} excludes it (${rule.ignoreSyntax} pattern "${ignored.pattern}")` };
    let might: boolean | 'empty';
    try {
      might = !rule.safeMode || mightContainDag(absolute, rule.airflowMajor);
    } catch (error) {
      return { isDag: false, reason: `it cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
    }
    if (might === 'empty') return { isDag: false, reason: `it is empty, so Airflow ${rule.airflowMajor}'s safe mode skips it`, empty: true };
    if (!might) {
      const words = rule.airflowMajor >= 3 ? '"airflow" and ("dag" or "asset")' : '"airflow" and "dag"';
      return { isDag: false, reason: `it does not mention ${words}, so Airflow ${rule.airflowMajor}'s safe mode skips it` };
    }
    return { isDag: true };
  }

  /** Whether a walk goes into this folder: not hidden, not a dependency folder, not excluded by .airflowignore. */
  walksInto(folder: string): boolean {
    const name = path.basename(folder);
    if (isUnwalkedFolder(name)) return false;
    const workspaceRoot = this.workspaceRootOf(folder);
    const dagRoot = hostDagRoot(path.join(folder, '__probe__.py'), workspaceRoot);
    return !this.excludedBy(folder, true, dagRoot, this.ruleFor(path.dirname(folder)));
  }

  private excludedBy(absolute: string, isFolder: boolean, dagRoot: string, rule: DagFileRule): IgnoredBy | undefined {
    let ignores = this.ignores.get(dagRoot);
    if (!ignores) this.ignores.set(dagRoot, (ignores = new AirflowIgnore(dagRoot)));
    return ignores.excludedBy(absolute, isFolder, rule.ignoreSyntax);
  }

  /** A project's `dags/` beside (or above) the file that does not hold it: the file is not in the DAGs folder. */
  private outsideDagsFolder(file: string, dagRoot: string, workspaceRoot: string): string | undefined {
    if (path.basename(dagRoot) === 'dags') return undefined;
    for (let dir = path.dirname(file); isInside(workspaceRoot, dir); dir = path.dirname(dir)) {
      const candidate = path.join(dir, 'dags');
      let has = this.dagsFolders.get(candidate);
      if (has === undefined) {
        try {
          has = statSync(candidate).isDirectory();
        } catch {
          has = false;
        }
        this.dagsFolders.set(candidate, has);
      }
      if (has) return candidate;
      if (dir === workspaceRoot || path.dirname(dir) === dir) break;
    }
    return undefined;
  }
}

export interface FoundDagFiles {
  files: string[];
  missing: string[];
  /** Files the user named that Airflow would not parse: parsed anyway, with this note. */
  notes: { file: string; note: string }[];
}

/**
 * A folder's rule, made by `ruleOf` once per folder (a folder's rule comes from its effective runtime, which is
 * resolved once per folder): what a judge asks for each file and folder it looks at.
 */
export function rulePerFolder(ruleOf: (folder: string) => DagFileRule, rules = new Map<string, DagFileRule>()): (folder: string) => DagFileRule {
  return (folder) => {
    let rule = rules.get(folder);
    if (!rule) rules.set(folder, (rule = ruleOf(folder)));
    return rule;
  };
}

/**
 * The one walk of a folder as Airflow walks its DAGs folder: into the folders the rule walks into, calling `onPython`
 * for each `.py` file and `onSkippedFolder` for each folder it does not walk into.
 */
export function walkPythonFiles(dir: string, judge: DagFileJudge, onPython: (file: string) => void, onSkippedFolder?: (folder: string, name: string) => void): void {
  walkFiles(dir, (folder) => judge.walksInto(folder), (file, name) => { if (name.endsWith('.py')) onPython(file); }, onSkippedFolder);
}

/** DAG files named by the user: files as given (with a note when the rule skips them), folders walked by the rule. */
export function findDagFiles(paths: string[], judge: DagFileJudge): FoundDagFiles {
  const files: string[] = [];
  const missing: string[] = [];
  const notes: FoundDagFiles['notes'] = [];
  const walk = (dir: string) => walkPythonFiles(dir, judge, (file) => { if (judge.verdict(file).isDag) files.push(file); });
  for (const given of paths) {
    const absolute = path.resolve(given);
    let kind: 'file' | 'dir' | undefined;
    try {
      kind = statSync(absolute).isDirectory() ? 'dir' : 'file';
    } catch {
      missing.push(given);
      continue;
    }
    if (kind === 'dir') {
      walk(absolute);
      continue;
    }
    const verdict = judge.verdict(absolute);
    if (!verdict.isDag) notes.push({ file: absolute, note: `Airflow would not parse this file: ${verdict.reason}; parsed because it was named` });
    files.push(absolute);
  }
  return { files: [...new Set(files)].sort(), missing, notes };
}
