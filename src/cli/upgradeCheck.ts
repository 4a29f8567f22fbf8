import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultJobs } from '../core/engine/capacity';
import { describeFailure } from '../core/engine/errors';
import { type EngineChoice, selectEngine } from '../core/engine/select';
import { hasErrors, type Problem } from '../core/problems';
import { staticFindingText } from '../core/upgrade/compare';
import { RUFF } from '../core/upgrade/ruff';
import { checkUpgrade, imageTarget, runtimeFileTarget, type UpgradeReport, type UpgradeTarget } from '../core/upgrade/check';
import { findDagFiles } from '../core/workspace/dagFiles';
import { displayPath, formatProblems } from './display';
import { announcing } from './notices';
import { whyNoDagFiles } from './parse';
import { terminalProgress } from './progress';
import { dagFileJudge, hostAccessOf, runtimeFor, workspaceRootFor } from './runtimeFor';
import { cancelOnSignals } from './signals';
import { EXIT, UsageError } from './usage';

export const UPGRADE_CHECK_HELP = `Usage: airflow-runtime upgrade-check [PATH...] --to IMAGE | --to-runtime FILE [--format text|json] [--fix]

What moving DAG files to another runtime does, per file and per line. Each DAG file (under the folders given; the
current folder by default) is parsed in its runtime and in the same runtime with the target applied, and compared:
  error    what breaks: an import error the target has and the current runtime has not ("works on X, fails on Y")
  info     what changes: DAGs and tasks that appear or disappear, edges, schedules, task types
  warning  new warnings (deprecations), and ruff's Airflow rules for the target's major version (AIR3xx), marked
           "static: ruff" with the fix ruff offers. ruff reads the files as text on this machine and never runs
           them; it is ruff ${RUFF.version} from PyPI, pinned and hash-checked, fetched once into our cache.
Then a verdict per file (breaks / changes / unchanged) and a summary.

Options:
  --to IMAGE                 the target: this image in place of each file's own (everything else unchanged)
  --to-runtime FILE          the target: a runtime file merged over each file's runtime (a new base image and
                             requirements, say); relative paths in it are read against its folder
  --fix                      write ruff's safe fixes into the files (the only way this command writes a file),
                             then parse them again and report what is left
  --format text|json         json prints the report (airflow-runtime/upgrade-check@1)
  --engine auto|docker|local auto (default) uses Docker when reachable, else the local runtime emulator
  --jobs N                   files checked at once (default: ${defaultJobs()} here)
  --all-warnings             also compare the warnings raised inside Airflow or libraries
  --workspace DIR            the project root (default: found from the files)
  --allow-host-access        let runtime files open the host (as parse); also AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS=1

Exit codes: 0 nothing breaks; 1 a DAG file breaks on the target; 2 bad usage, runtime file or engine, or cancelled.`;

export async function upgradeCheckCommand(args: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const { values: flags, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: {
      to: { type: 'string' }, 'to-runtime': { type: 'string' }, format: { type: 'string', default: 'text' }, fix: { type: 'boolean' },
      engine: { type: 'string', default: 'auto' }, jobs: { type: 'string' }, workspace: { type: 'string' },
      'allow-host-access': { type: 'boolean' }, 'all-warnings': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (flags.help) {
    out(UPGRADE_CHECK_HELP);
    return EXIT.ok;
  }
  const verb = 'upgrade-check';
  if (!flags.to === !flags['to-runtime']) throw new UsageError('upgrade-check needs its target: --to IMAGE or --to-runtime FILE (one of them)', verb);
  if (flags.to !== undefined && !flags.to.trim()) throw new UsageError('--to needs an image name (airflow:3.3.2, say)', verb);
  if (!['auto', 'docker', 'local'].includes(flags.engine!)) throw new UsageError(`--engine must be auto, docker or local, not "${flags.engine}"`, verb);
  if (flags.format !== 'text' && flags.format !== 'json') throw new UsageError(`--format must be text or json, not "${flags.format}"`, verb);
  const jobs = flags.jobs === undefined ? defaultJobs() : Number(flags.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`--jobs must be a whole number of at least 1, not "${flags.jobs}"`, verb);

  const cwd = process.cwd();
  const paths = positionals.length ? positionals : ['.'];
  const where = { cwd, workspace: flags.workspace, hostAccess: hostAccessOf(flags['allow-host-access']) };
  const { files, missing } = findDagFiles(paths, dagFileJudge(where));
  if (missing.length) throw new UsageError(`no such file or folder: ${missing.join(', ')}`, verb);

  let target: UpgradeTarget;
  if (flags['to-runtime'] !== undefined) {
    const file = path.resolve(cwd, flags['to-runtime']);
    if (!existsSync(file)) throw new UsageError(`no such runtime file: ${flags['to-runtime']}`, verb);
    target = runtimeFileTarget(file, workspaceRootFor(files[0] ?? file, cwd, flags.workspace), where.hostAccess);
    if (hasErrors(target.problems)) {
      for (const line of formatProblems(target.problems, cwd)) err(line);
      err(`airflow-runtime: the target runtime file has errors (above): fix them, then check again`);
      return EXIT.configOrInfra;
    }
  } else {
    target = imageTarget(flags.to!.trim());
  }
  if (files.length === 0) {
    for (const line of whyNoDagFiles(paths, dagFileJudge(where), cwd)) err(line);
    return EXIT.ok;
  }

  const cancel = cancelOnSignals(err, 'stopping the check and cleaning up');
  const progress = terminalProgress();
  try {
    let selected;
    try {
      selected = await selectEngine(flags.engine as EngineChoice, { warm: true });
    } catch (error) {
      err(`airflow-runtime: ${describeFailure(error)}`);
      return EXIT.configOrInfra;
    }
    err(`engine: ${selected.reason}`);
    const engine = announcing(selected.engine, err);
    let report: UpgradeReport;
    try {
      report = await checkUpgrade(files, {
        engine, jobs, target, fix: !!flags.fix, allWarnings: !!flags['all-warnings'], signal: cancel.signal, onProgress: progress.report,
        runtimeOf: (file) => runtimeFor(file, where),
      });
    } finally {
      progress.clear();
      await engine.dispose();
    }
    if (cancel.cancelled()) {
      if (report.fixed) err(`--fix had written ruff's safe fixes before the cancel (${report.fixed.files.map((f) => displayPath(f, cwd)).join(', ')}); they were not checked again`);
      err('cancelled: every container and process of this check was stopped');
      return EXIT.configOrInfra;
    }
    if (flags.fix && !report.fixed && !report.static.error) err('--fix: ruff has no safe fix for these files: nothing was written');
    if (flags.format === 'json') out(JSON.stringify(report, null, 2));
    else printReport(report, cwd, out, err);
    if (report.static.error || report.files.some((f) => f.verdict === 'not-checked')) return EXIT.configOrInfra;
    return report.summary.breaks > 0 ? EXIT.userFailure : EXIT.ok;
  } finally {
    cancel.dispose();
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Findings as `path:line:col: severity: message` (clickable), by file and line; then a verdict per file and a summary. */
export function printReport(report: UpgradeReport, cwd: string, out: (line: string) => void, err: (line: string) => void): void {
  const runtimeProblems = new Map<string, Problem>();
  for (const file of report.files) for (const p of file.runtimeProblems) runtimeProblems.set(`${p.file}:${p.start.line}:${p.start.column}:${p.message}`, p);
  for (const line of formatProblems([...runtimeProblems.values()], cwd)) out(line);
  if (report.fixed) out(`--fix: ruff's safe fixes written (${`${report.fixed.applied} fix${report.fixed.applied === 1 ? '' : 'es'}`} in ${report.fixed.files.map((f) => displayPath(f, cwd)).join(', ')}); checked again: what is left follows`);
  const severity = { breaks: 'error', warning: 'warning', changes: 'info' } as const;
  for (const file of report.files) {
    const lines = [
      ...(file.findings ?? []).map((f) => ({ file: f.file, line: f.line ?? 1, column: f.column ?? 1, text: `${severity[f.kind]}: ${f.message}` })),
      ...file.static.map((s) => ({ file: s.file, line: s.start.line, column: s.start.column, text: `warning: ${staticFindingText(s)}` })),
    ].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
    for (const line of lines) out(`${displayPath(line.file, cwd)}:${line.line}:${line.column}: ${line.text}`);
  }
  for (const file of report.files) {
    const name = displayPath(file.file, cwd);
    if (file.error) {
      err(`${name}: not checked: ${file.error.message}`);
      continue;
    }
    const counts = [
      file.findings?.filter((f) => f.kind === 'breaks').length ? plural(file.findings.filter((f) => f.kind === 'breaks').length, 'new error') : '',
      file.findings?.filter((f) => f.kind === 'changes').length ? plural(file.findings.filter((f) => f.kind === 'changes').length, 'change') : '',
      file.findings?.filter((f) => f.kind === 'warning').length ? plural(file.findings.filter((f) => f.kind === 'warning').length, 'new warning') : '',
      file.static.length ? plural(file.static.length, 'static finding') : '',
    ].filter(Boolean).join(', ');
    err(`${name}: ${file.verdict}${counts ? ` (${counts})` : ''} [${file.current!.airflowVersion} → ${file.target!.airflowVersion}]`);
  }
  const s = report.summary;
  const notChecked = s.notChecked ? `, ${s.notChecked} not checked` : '';
  const fixes = s.safeFixes ? ` (${s.safeFixes} with a safe fix: --fix applies ${s.safeFixes === 1 ? 'it' : 'them'})` : '';
  const ruff = report.static.error ? `; ruff did not run: ${report.static.error}` : report.static.rules.length ? `; ${plural(s.staticFindings, 'static finding')}${fixes}` : '; no ruff rules for this target\'s Airflow';
  err(`${plural(report.files.length, 'file')} on ${report.target}: ${s.breaks} break, ${s.changes} change, ${s.unchanged} unchanged${notChecked}${ruff}`);
}
