import { parseArgs } from 'node:util';
import { dagRunConfProblem } from '../core/engine/runInputs';
import { isFailedState, stateCounts, stateWords, taskInstanceName } from '../core/project/dagRunStates';
import type { TaskStateEvent } from '../core/engine/types';
import { checkRuntimeFlags, inDagRuntime } from './inRuntime';
import { locatedHere } from './run';
import { EXIT, UsageError } from './usage';

export const TEST_DAG_HELP = `Usage: airflow-runtime test-dag <dag_file> <dag_id> [--date YYYY-MM-DD] [--conf JSON] [--engine auto|docker|local] [--image IMG]

Runs the whole DAG inside the DAG file's runtime, the way dag.test() and "airflow dags test" do: every task in
order, in one process, against a private metadata database. The log streams as it happens, and each task's
state is said as it changes. --conf is the run's conf (a JSON object); --date its logical date.
Ctrl-C cancels: the container or process tree is killed, nothing is left behind.

Exit codes: 0 the run succeeded; 1 it failed (the failed tasks are named), or the DAG file did not load (the
import error at path:line:col); 2 bad usage, runtime file or engine,
or cancelled.`;

export async function testDagCommand(args: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const { values: flags, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: {
      date: { type: 'string' }, conf: { type: 'string' }, engine: { type: 'string', default: 'auto' }, image: { type: 'string' },
      workspace: { type: 'string' }, 'allow-host-access': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (flags.help) {
    out(TEST_DAG_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 2) throw new UsageError('test-dag takes <dag_file> <dag_id>', 'test-dag');
  const [dagArg, dagId] = positionals;
  const dagFile = checkRuntimeFlags(flags, dagArg, 'test-dag');
  const confProblem = flags.conf === undefined ? undefined : dagRunConfProblem(flags.conf);
  if (confProblem) throw new UsageError(`--conf: ${confProblem}`, 'test-dag');

  const ended = new Map<string, TaskStateEvent>();
  return inDagRuntime(dagFile, flags, err, { refused: 'fix the runtime files above before running the DAG', stopping: 'stopping the DAG run and cleaning up' }, async ({ runtime, engine, signal, progress }) => {
    const outcome = await engine.testDag({
      dagFile, runtime, dagId, date: flags.date, conf: flags.conf, signal,
      onProgress: progress.report,
      onLog: (line) => {
        progress.clear();
        out(locatedHere(line));
      },
      onTask: (task) => {
        const name = taskInstanceName(task.taskId, task.mapIndex);
        if (task.final) return void ended.set(name, task);
        progress.clear();
        err(`${dagId}.${name}: ${task.state}${task.durationMs !== undefined ? ` in ${(task.durationMs / 1000).toFixed(1)}s` : ''}`);
      },
    });
    progress.clear();
    const failed = [...ended.entries()].filter(([, t]) => isFailedState(t.state)).map(([name, t]) => `${name} (${stateWords(t.state)})`);
    const summary = stateCounts([...ended.values()].map((task) => task.state));
    err(`${dagId}: ${outcome.exitCode === 0 ? 'success' : 'failed'} in ${(outcome.durationMs / 1000).toFixed(1)}s${summary ? ` (${summary})` : ''}${failed.length ? `; failed: ${failed.join(', ')}` : ''}`);
    return outcome.exitCode;
  });
}
