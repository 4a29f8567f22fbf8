import type { Problem } from '../../problems';
import { normalName, type RequirementLine } from '../../runtime/requirements';
import { requirementsPlace, type RequirementsSource } from '../../runtime/requirementsPlace';
import { EngineError } from '../errors';

/**
 * uv's failure to install a runtime's `requirements` into the local venv, at the line of the requirement it blames.
 * uv names no line (`cause: Because no-such-package was not found in the package registry and you require
 * no-such-package==1.0, ...`): the requirement is the first of the user's that its cause names (Airflow, which the
 * venv adds itself, only when nothing else is named). Undefined when uv names none of them.
 */
export function requirementsInstallFailure(tail: string, requirements: readonly RequirementLine[], requirementsFile: string | undefined, runtime: RequirementsSource | undefined): EngineError | undefined {
  const lines = tail.split('\n').map((line) => line.trim());
  const cause = lines.find((line) => line.startsWith('cause: '))?.slice('cause: '.length) ?? lines.find((line) => line.startsWith('error: '))?.slice('error: '.length);
  if (!cause) return undefined;
  const words = new Set(cause.toLowerCase().split(/[^a-z0-9._-]+/).map((word) => normalName(word.replace(/[._-]+$/, ''))));
  const named = (r: RequirementLine) => r.name !== undefined && words.has(normalName(r.name));
  const blamed = requirements.find((r) => named(r) && normalName(r.name!) !== 'apache-airflow') ?? requirements.find(named);
  if (!blamed) return undefined;
  const { file, lineOf } = requirementsPlace(requirementsFile, runtime);
  const at = lineOf(blamed.line);
  const message = `uv: ${cause}`;
  const problem: Problem = { file, severity: 'error', code: 'bad-value', message, start: { line: at, column: 1 }, end: { line: at, column: 1 } };
  return new EngineError('venv-build-failed', `${file}:${at}: error: ${message}`,
    'fix the requirement (the whole log: --verbose in the CLI, the Airflow Runtime output channel in the editor)', [problem]);
}
