import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { hasErrors } from '../core/problems';
import { effectiveRuntimeYaml } from '../core/runtime/describe';
import type { EffectiveRuntime } from '../core/runtime/resolve';
import { redactedValues } from '../core/runtime/secrets';
import { displayPath, formatProblems } from './display';
import { hostAccessOf, runtimeFor } from './runtimeFor';
import { EXIT, UsageError } from './usage';

export const RESOLVE_HELP = `Usage: airflow-runtime resolve <dag_file> [--format yaml|json] [--workspace DIR]

Prints the effective runtime of a DAG file, each value with where it came from (secrets as ***):
defaults < .vscode/settings.json < each airflow-runtime.yaml from the workspace root down
< the DAG file's own <dag>.airflow-runtime.yaml.

Options:
  --format yaml|json   output format (default yaml, with sources as comments)
  --workspace DIR      the project root (default: found from the files, the same from any folder: the nearest folder with .git, .vscode, .astro or dags/ beside include/ or plugins/, else the topmost airflow-runtime.yaml)

Exit codes: 0 resolved; 2 a runtime file has errors (the values that were valid are still shown) or bad usage.`;

export function resolveCommand(args: string[], out: (line: string) => void, err: (line: string) => void): number {
  const { values: flags, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: { format: { type: 'string', default: 'yaml' }, workspace: { type: 'string' }, 'allow-host-access': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (flags.help) {
    out(RESOLVE_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('resolve takes exactly one DAG file', 'resolve');
  if (flags.format !== 'yaml' && flags.format !== 'json') throw new UsageError(`--format must be yaml or json, not "${flags.format}"`, 'resolve');
  const dagFile = path.resolve(positionals[0]);
  if (!existsSync(dagFile) || !statSync(dagFile).isFile()) throw new UsageError(`no such DAG file: ${positionals[0]}`, 'resolve');

  const cwd = process.cwd();
  const runtime = runtimeFor(dagFile, { cwd, workspace: flags.workspace, hostAccess: hostAccessOf(flags['allow-host-access']) });

  out(flags.format === 'json' ? JSON.stringify(toJson(runtime, cwd), null, 2) : effectiveRuntimeYaml(runtime, (file) => displayPath(file, cwd)));
  for (const line of formatProblems(runtime.problems, cwd)) err(line);
  if (hasErrors(runtime.problems)) err('values with errors were left out; fix the runtime files above');
  return hasErrors(runtime.problems) ? EXIT.configOrInfra : EXIT.ok;
}

function toJson(runtime: EffectiveRuntime, cwd: string) {
  return {
    dagFile: displayPath(runtime.dagFile, cwd),
    workspaceRoot: runtime.workspaceRoot,
    runtimeFiles: runtime.files.map((f) => displayPath(f.path, cwd)),
    runtime: redactedValues(runtime.values),
    sources: runtime.sources,
    problems: runtime.problems,
  };
}
