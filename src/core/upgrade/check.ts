import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describeFailure, engineErrorOf } from '../engine/errors';
import type { ParseResult } from '../harness/parseResult';
import type { Engine, WorkOptions } from '../engine/types';
import { FILE_START, hasErrors, type Problem } from '../problems';
import type { HostAccess } from '../runtime/checks';
import { declaredAirflowOf } from '../runtime/declaredAirflow';
import { readRuntimeFile, readRuntimeText } from '../runtime/read';
import { type EffectiveRuntime, fileLayer, type Layer, withLayer } from '../runtime/resolve';
import { recordReportedAirflow } from '../runtime/reportedAirflow';
import { compareParses, type FileComparison, type Side } from './compare';
import { airflowRulesFor, applyEdits, ensureRuff, RUFF, runRuff, type StaticFinding } from './ruff';

export const UPGRADE_CHECK_FORMAT = 'airflow-runtime/upgrade-check@1';

/** What the DAG files move to: an image in place of theirs, or a runtime file merged over everything else. */
export interface UpgradeTarget {
  /** For people: the image, or the runtime file. */
  label: string;
  layer: Layer;
  /** The runtime file's problems; with errors among them nothing is checked. */
  problems: Problem[];
}

export function imageTarget(image: string, flag = '--to'): UpgradeTarget {
  return { label: image, layer: { values: { image }, sourceOf: () => ({ kind: 'flag', flag }) }, problems: [] };
}

/** A runtime file as a target: read as every runtime file is (problems at their lines), paths against its folder. */
export function runtimeFileTarget(file: string, workspaceRoot: string, hostAccess?: HostAccess): UpgradeTarget {
  const absolute = path.resolve(file);
  const text = readRuntimeText(absolute);
  if (text === undefined) {
    return { label: absolute, layer: { values: {}, sourceOf: () => ({ kind: 'default' }) }, problems: [{ file: absolute, start: FILE_START, end: FILE_START, severity: 'error', code: 'missing-path', message: 'no such runtime file' }] };
  }
  const read = readRuntimeFile(absolute, text, { workspaceRoot, hostAccess });
  return { label: absolute, layer: fileLayer(read), problems: read.problems };
}

/** One DAG file's move: the comparison of its two parses and ruff's findings, or why it could not be checked. */
export interface FileUpgrade extends Partial<Omit<FileComparison, 'file' | 'verdict'>> {
  file: string;
  verdict: FileComparison['verdict'] | 'not-checked';
  current?: Side;
  target?: Side;
  static: StaticFinding[];
  error?: { code: string; message: string };
  /** Problems of the runtime files of either side (the CLI prints them once). */
  runtimeProblems: Problem[];
}

export interface UpgradeReport {
  format: typeof UPGRADE_CHECK_FORMAT;
  target: string;
  files: FileUpgrade[];
  /** ruff's version and the rules asked for (none where the target is not Airflow 3), or why it did not run. */
  static: { tool: string; rules: string[]; error?: string };
  summary: { breaks: number; changes: number; unchanged: number; notChecked: number; staticFindings: number; safeFixes: number };
  /** With `fix`: the files ruff's safe fixes were written into, how many, and the files as checked again after. */
  fixed?: { files: string[]; applied: number };
}

export interface UpgradeCheckOptions extends WorkOptions {
  engine: Engine;
  /** The DAG file's current effective runtime. */
  runtimeOf(dagFile: string): EffectiveRuntime;
  target: UpgradeTarget;
  jobs: number;
  /** Write ruff's safe fixes into the files, then check them again: only when a person asked for it (`--fix`). */
  fix?: boolean;
  /** Hide nothing of the warnings raised inside Airflow or libraries (as `parse --all-warnings`). */
  allWarnings?: boolean;
  /** A file was compared (for progress). */
  onFile?(file: FileUpgrade, done: number, total: number): void;
  /** A file was parsed on one side (`in its runtime`, `on <target>`): `done` of `total` parses, both sides counted. */
  onParsed?(file: string, side: string, done: number, total: number): void;
}

/** Failures of a runtime itself (not of a file): after one, no other file of that runtime is tried on it. */
const RUNTIME_FAILURES: ReadonlySet<string> = new Set(['engine-unreachable', 'image-missing', 'image-pull-failed', 'image-build-failed', 'interpreter-missing', 'venv-build-failed', 'start-timeout', 'bad-runtime']);

/**
 * Each DAG file parsed in its runtime and in the same runtime with the target applied, compared (compare.ts), with
 * ruff's Airflow rules for the target's major version beside it. The CLI and the editor both call this.
 */
export async function checkUpgrade(files: readonly string[], options: UpgradeCheckOptions): Promise<UpgradeReport> {
  let checked = await compareAll(files, options);
  if (options.signal?.aborted) return finish({ format: UPGRADE_CHECK_FORMAT, target: options.target.label, files: checked, static: { tool: `ruff ${RUFF.version}`, rules: [], error: 'cancelled' }, summary: summaryOf([]) });
  const rules = airflowRulesFor(targetMajor(checked, files, options));
  const report: UpgradeReport = { format: UPGRADE_CHECK_FORMAT, target: options.target.label, files: checked, static: { tool: `ruff ${RUFF.version}`, rules }, summary: summaryOf([]) };
  try {
    const ruff = rules.length ? await ensureRuff(options) : '';
    attachStatic(checked, await runRuff(ruff, staticFiles(checked), rules, { signal: options.signal }));
    const fixable = [...new Set(checked.flatMap((f) => f.static.filter((s) => s.fix?.applicability === 'safe').map(() => f.file)))];
    if (options.fix && fixable.length && !options.signal?.aborted) {
      const applied = checked.reduce((n, f) => n + f.static.filter((s) => s.fix?.applicability === 'safe').length, 0);
      await fixWithRuff(ruff, fixable, rules, options.signal);
      // written: said even if what follows fails or is cancelled
      report.fixed = { files: fixable, applied };
      const again = await compareAll(fixable, options, false);
      attachStatic(again, await runRuff(ruff, staticFiles(again), rules, { signal: options.signal }));
      const byFile = new Map(again.map((f) => [f.file, f]));
      checked = checked.map((f) => byFile.get(f.file) ?? f);
      report.files = checked;
    }
  } catch (error) {
    report.static.error = options.signal?.aborted ? 'cancelled' : describeFailure(error);
  }
  return finish(report);
}

function finish(report: UpgradeReport): UpgradeReport {
  report.files.sort((a, b) => a.file.localeCompare(b.file));
  report.summary = summaryOf(report.files);
  return report;
}

/**
 * ruff's safe fixes for `rules`, written into `files`; then the imports those fixes left unused (the old import of a
 * class now imported from its provider) removed by ruff's own F401 fix. Imports unused before are left alone.
 */
async function fixWithRuff(ruff: string, files: readonly string[], rules: readonly string[], signal?: AbortSignal): Promise<void> {
  const key = (f: StaticFinding) => `${path.resolve(f.file)}\0${f.message}`;
  const unusedBefore = new Set((await runRuff(ruff, files, [UNUSED_IMPORT], { signal })).map(key));
  await runRuff(ruff, files, rules, { fix: true, signal });
  const orphaned = (await runRuff(ruff, files, [UNUSED_IMPORT], { signal })).filter((f) => !unusedBefore.has(key(f)) && f.fix?.applicability === 'safe');
  for (const file of new Set(orphaned.map((f) => path.resolve(f.file)))) {
    const edits = orphaned.filter((f) => path.resolve(f.file) === file).flatMap((f) => f.fix!.edits);
    writeFileSync(file, applyEdits(readFileSync(file, 'utf8'), edits));
  }
}

const UNUSED_IMPORT = 'F401';

function summaryOf(files: readonly FileUpgrade[]): UpgradeReport['summary'] {
  const count = (verdict: FileUpgrade['verdict']) => files.filter((f) => f.verdict === verdict).length;
  const findings = files.flatMap((f) => f.static);
  return {
    breaks: count('breaks'), changes: count('changes'), unchanged: count('unchanged'), notChecked: count('not-checked'),
    staticFindings: findings.length, safeFixes: findings.filter((s) => s.fix?.applicability === 'safe').length,
  };
}

/** ruff reads the files that could be parsed (a file whose runtime is broken is not checked at all). */
function staticFiles(files: readonly FileUpgrade[]): string[] {
  return files.filter((f) => f.verdict !== 'not-checked').map((f) => f.file);
}

function attachStatic(files: FileUpgrade[], findings: StaticFinding[]): void {
  const byFile = new Map(files.map((f) => [path.resolve(f.file), f]));
  for (const finding of findings) byFile.get(path.resolve(finding.file))?.static.push(finding);
}

/** The target's Airflow major: what it reported, else what its runtime declares (an image tag), else 3. */
function targetMajor(checked: readonly FileUpgrade[], files: readonly string[], options: UpgradeCheckOptions): number {
  const reported = checked.find((f) => f.target)?.target?.airflowVersion;
  const declared = reported ?? (files[0] ? declaredAirflowOf(withLayer(options.runtimeOf(files[0]), options.target.layer).values)?.version : undefined);
  const major = Number((declared ?? '3').split('.')[0]);
  return Number.isFinite(major) ? major : 3;
}

/**
 * Every file parsed on one side, then every file on the other: a warm runtime is started once per side (one of the
 * same runtime files with other values retires the other's, so file after file would restart both). The target
 * goes first (a target that cannot start fails before anything else is started); a check again after `--fix`
 * starts with the current runtime, the one still running. Cancelled: those compared so far.
 */
async function compareAll(files: readonly string[], options: UpgradeCheckOptions, targetFirst = true): Promise<FileUpgrade[]> {
  const out: FileUpgrade[] = [];
  const sides = new Map<string, { current: EffectiveRuntime; target: EffectiveRuntime }>();
  for (const file of files) {
    const current = options.runtimeOf(file);
    const target = withLayer(current, options.target.layer, options.target.problems);
    if (hasErrors(target.problems)) out.push({ file, verdict: 'not-checked', static: [], runtimeProblems: target.problems, error: { code: 'bad-runtime', message: 'fix the errors of its runtime files (above) first' } });
    else sides.set(file, { current, target });
  }
  const parsed = (results: Map<string, ParseResult | { error: unknown }>) => [...results.keys()].filter((file) => !('error' in results.get(file)!));
  let before: Map<string, ParseResult | { error: unknown }>;
  let after: Map<string, ParseResult | { error: unknown }>;
  const onTarget = `on ${options.target.label}`;
  const progress = { done: 0, total: sides.size * 2 };
  if (targetFirst) {
    after = await parseEach([...sides.keys()], (file) => sides.get(file)!.target, options, onTarget, progress);
    before = await parseEach(parsed(after), (file) => sides.get(file)!.current, options, 'in its runtime', progress);
  } else {
    before = await parseEach([...sides.keys()], (file) => sides.get(file)!.current, options, 'in its runtime', progress);
    after = await parseEach(parsed(before), (file) => sides.get(file)!.target, options, onTarget, progress);
  }
  for (const [file, { current, target }] of sides) {
    const was = before.get(file);
    const now = after.get(file);
    const failed = was && 'error' in was ? { side: 'in its runtime', error: was.error } : now && 'error' in now ? { side: `on ${options.target.label}`, error: now.error } : undefined;
    if (!failed && (!was || !now)) continue; // cancelled before it was parsed
    let outcome: FileUpgrade;
    if (failed) {
      outcome = { file, verdict: 'not-checked', static: [], runtimeProblems: target.problems, error: { code: engineErrorOf(failed.error).code, message: `not parsed ${failed.side}: ${describeFailure(failed.error)}` } };
    } else if (sameInterpreter(options, was as ParseResult, now as ParseResult)) {
      outcome = { file, verdict: 'not-checked', static: [], runtimeProblems: target.problems, error: { code: 'same-runtime', message: `the local runtime emulator ran both sides in the same interpreter (Airflow ${(was as ParseResult).airflowVersion}, Python ${(was as ParseResult).pythonVersion}): it cannot stand in for ${options.target.label}; check with Docker (--engine docker), or give --to-runtime a runtime file whose local.requirements pin the target's Airflow` } };
    } else {
      const names = { current: sideOf(current, was as ParseResult), target: sideOf(target, now as ParseResult) };
      const comparison = compareParses(file, was as ParseResult, now as ParseResult, names, { workspaceRoot: current.workspaceRoot, allWarnings: options.allWarnings });
      outcome = { ...comparison, ...names, static: [], runtimeProblems: target.problems };
    }
    out.push(outcome);
    options.onFile?.(outcome, out.length, files.length);
  }
  return out;
}

/**
 * An image-only target on the local runtime emulator: both sides ran one interpreter (the emulator cannot run an
 * image it has no Airflow version for, and `local.python` or `local.requirements` win over `image`).
 */
function sameInterpreter(options: UpgradeCheckOptions, was: ParseResult, now: ParseResult): boolean {
  const imageOnly = Object.keys(options.target.layer.values).every((key) => key === 'image');
  return options.engine.kind === 'local' && imageOnly && was.airflowVersion === now.airflowVersion && was.pythonVersion === now.pythonVersion;
}

/**
 * Each file parsed in the runtime `runtimeOf` gives it, `jobs` at once: its result (without Airflow's serialized DAG),
 * or why not. A runtime that cannot be had (its image, its build, its engine) fails the rest of its files with the
 * same error, untried: a mistyped image is not pulled again for every file.
 */
async function parseEach(files: readonly string[], runtimeOf: (file: string) => EffectiveRuntime, options: UpgradeCheckOptions, side: string, progress: { done: number; total: number }): Promise<Map<string, ParseResult | { error: unknown }>> {
  const out = new Map<string, ParseResult | { error: unknown }>();
  const failedRuntimes = new Map<string, unknown>();
  let next = 0;
  const worker = async () => {
    while (next < files.length && !options.signal?.aborted) {
      const file = files[next++];
      const runtime = runtimeOf(file);
      const key = JSON.stringify([runtime.values.image, runtime.values.build, runtime.values.local, runtime.values.requirements]);
      const known = failedRuntimes.get(key);
      try {
        if (known !== undefined) throw known;
        const result = await options.engine.parse({ dagFile: file, runtime, signal: options.signal, onProgress: options.onProgress, onNotice: options.onNotice });
        recordReportedAirflow(runtime.values, result.airflowVersion);
        out.set(file, { ...result, dags: result.dags.map(({ serialized: _, ...dag }) => dag) });
      } catch (error) {
        if (options.signal?.aborted) break;
        if (RUNTIME_FAILURES.has(engineErrorOf(error).code)) failedRuntimes.set(key, error);
        out.set(file, { error });
      }
      options.onParsed?.(file, side, ++progress.done, progress.total);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.jobs, files.length)) }, worker));
  return out;
}

function sideOf(runtime: EffectiveRuntime, result: ParseResult): Side {
  const values = runtime.values;
  const label = values.build ? `built from ${values.build.context}` : values.image ?? 'the local runtime';
  return { airflowVersion: result.airflowVersion, runtime: label };
}
