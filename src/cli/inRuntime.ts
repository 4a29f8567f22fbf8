import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { describeFailure } from '../core/engine/errors';
import { type EngineChoice, selectEngine } from '../core/engine/select';
import type { Engine } from '../core/engine/types';
import type { EffectiveRuntime } from '../core/runtime/resolve';
import { hasErrors } from '../core/problems';
import { logicalDateProblem } from '../core/engine/runInputs';
import { formatProblems } from './display';
import { announcing } from './notices';
import { terminalProgress } from './progress';
import { hostAccessOf, runtimeFor } from './runtimeFor';
import { cancelOnSignals } from './signals';
import { EXIT, UsageError } from './usage';

/** The flags `run`, `test-dag` and `render` share. */
export interface RuntimeFlags {
  engine?: string;
  date?: string;
  image?: string;
  workspace?: string;
  'allow-host-access'?: boolean;
}

/** What the work of a verb is given. */
export interface InRuntime {
  dagFile: string;
  runtime: EffectiveRuntime;
  engine: Engine;
  signal: AbortSignal;
  progress: ReturnType<typeof terminalProgress>;
}

/** `--engine` and `--date` as every verb in a runtime takes them, and the DAG file named: usage errors before anything starts. */
export function checkRuntimeFlags(flags: RuntimeFlags, dagArg: string, verb: string): string {
  if (!['auto', 'docker', 'local'].includes(flags.engine ?? 'auto')) throw new UsageError(`--engine must be auto, docker or local, not "${flags.engine}"`, verb);
  const dateProblem = flags.date === undefined ? undefined : logicalDateProblem(flags.date);
  if (dateProblem) throw new UsageError(`--date: ${dateProblem}`, verb);
  const dagFile = path.resolve(dagArg);
  if (!existsSync(dagFile)) throw new UsageError(`no such DAG file: ${dagArg}`, verb);
  return dagFile;
}

/**
 * Work in a DAG file's runtime, as `run`, `test-dag` and `render` do it: the runtime files' problems said (errors refuse
 * the work, exit 2), the engine chosen and said, Ctrl-C and SIGTERM cancelling, the engine disposed, and a
 * failure of ours told once (exit 2). `work` returns the exit code.
 */
export async function inDagRuntime(dagFile: string, flags: RuntimeFlags, err: (line: string) => void, words: { refused: string; stopping: string },
  work: (context: InRuntime) => Promise<number>): Promise<number> {
  const cwd = process.cwd();
  const runtime = runtimeFor(dagFile, { cwd, workspace: flags.workspace, image: flags.image, hostAccess: hostAccessOf(flags['allow-host-access']) });
  for (const line of formatProblems(runtime.problems, cwd)) err(line);
  if (hasErrors(runtime.problems)) {
    err(words.refused);
    return EXIT.configOrInfra;
  }
  const cancel = cancelOnSignals(err, words.stopping);
  const progress = terminalProgress();
  try {
    const selected = await selectEngine((flags.engine ?? 'auto') as EngineChoice);
    err(`engine: ${selected.reason}`);
    try {
      return await work({ dagFile, runtime, engine: announcing(selected.engine, err), signal: cancel.signal, progress });
    } finally {
      progress.clear();
      await selected.engine.dispose();
    }
  } catch (error) {
    progress.clear();
    err(`airflow-runtime: ${describeFailure(error)}`);
    return EXIT.configOrInfra;
  } finally {
    cancel.dispose();
  }
}
