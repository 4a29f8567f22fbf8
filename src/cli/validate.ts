import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { FILE_START, hasErrors, type Problem } from '../core/problems';
import { readRuntimeFile, readRuntimeText, unreadableRuntimeFile } from '../core/runtime/read';
import { findRuntimeFiles } from '../core/workspace/runtimeFiles';
import { findProjectRoot } from '../core/workspace/root';
import { countProblems, displayPath, formatProblems } from './display';
import { hostAccessOf } from './runtimeFor';
import { EXIT, UsageError } from './usage';

export const VALIDATE_HELP = `Usage: airflow-runtime validate [runtime files...] [--format text|json] [--workspace DIR]

Checks runtime files (airflow-runtime.yaml, <dag>.airflow-runtime.yaml) against the schema and the disk.
With no files, checks every runtime file under the current folder.
Prints one line per problem: path:line:col: error|warning: message. Prints nothing when all is well.

Options:
  --format text|json   output format (default text)
  --workspace DIR      the project root, for mounts that leave it (default: found from each file: the nearest folder with .git, .vscode, .astro or dags/ beside include/ or plugins/, else the topmost airflow-runtime.yaml)
  --allow-host-access  check as if host access were allowed (also AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS=1)

Exit codes: 0 no errors (warnings allowed); 2 errors found.`;

export function validateCommand(args: string[], out: (line: string) => void, err: (line: string) => void): number {
  const { values: flags, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: { format: { type: 'string', default: 'text' }, workspace: { type: 'string' }, 'allow-host-access': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (flags.help) {
    out(VALIDATE_HELP);
    return EXIT.ok;
  }
  if (flags.format !== 'text' && flags.format !== 'json') throw new UsageError(`--format must be text or json, not "${flags.format}"`, 'validate');
  const cwd = process.cwd();
  const files = positionals.length ? positionals.map((f) => path.resolve(f)) : findRuntimeFiles(cwd);

  const problems: Problem[] = [];
  for (const file of files) {
    let text: string | undefined;
    try {
      text = readRuntimeText(file);
    } catch (error) {
      problems.push(...unreadableRuntimeFile(file, error).problems);
      continue;
    }
    if (text === undefined) {
      problems.push({ file, severity: 'error', code: 'unreadable-file', message: 'cannot read this runtime file: no such file', start: FILE_START, end: FILE_START });
      continue;
    }
    // each file's own project (root.ts), so that a file checks the same from every folder
    const workspaceRoot = path.resolve(flags.workspace ?? findProjectRoot(file));
    problems.push(...readRuntimeFile(file, text, { workspaceRoot, hostAccess: hostAccessOf(flags['allow-host-access']) }).problems);
  }

  if (flags.format === 'json') {
    out(JSON.stringify({ files: files.map((f) => displayPath(f, cwd)), problems: problems.map((p) => ({ ...p, file: displayPath(p.file, cwd) })) }, null, 2));
  } else {
    for (const line of formatProblems(problems, cwd)) out(line);
    if (problems.length) err(`${files.length} runtime file${files.length === 1 ? '' : 's'} checked: ${countProblems(problems)}`);
    if (!files.length && !positionals.length) err(`no runtime files under ${cwd}`);
  }
  return hasErrors(problems) ? EXIT.configOrInfra : EXIT.ok;
}
