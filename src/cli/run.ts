import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { locatedLineOf } from '../core/harness/locatedLine';
import { displayPath } from './display';
import { checkRuntimeFlags, inDagRuntime } from './inRuntime';
import { EXIT, UsageError } from './usage';

export const RUN_HELP = `Usage: airflow-runtime run <dag_file> <dag_id> <task_id> [--date YYYY-MM-DD] [--map-index N] [--engine auto|docker|local] [--image IMG] [--debug [PORT]] [--verbose]

Runs one task inside the DAG file's runtime, the way "airflow tasks test" does, and streams its log.
A mapped task needs --map-index; the upstream tasks it is mapped over run first.
--debug [PORT] runs it under debugpy, waiting for a Debug Adapter Protocol client on 127.0.0.1:PORT (a free
port when none is given) before the DAG file is loaded; breakpoints set by host path work as they are.
--verbose (-v) prints the whole output of the runtime's build (pip, apt-get, uv), each line after "| ".
Ctrl-C cancels: the container or process tree is killed, nothing is left behind.
--allow-host-access (or AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS=1) lets runtime files open the host: mounts and
files outside the workspace, sockets, network: host.

Exit codes: 0 the task succeeded; 1 it failed, or its DAG file did not load (the import error at path:line:col);
2 bad usage, runtime file or engine, or cancelled.`;

/**
 * A log line the harness located (`/abs/dags/etl.py:5:1: error: ...`, an import error), with its path as `parse`
 * prints it: relative to the current folder when below it. Other lines as they are.
 */
export function locatedHere(line: string, cwd = process.cwd()): string {
  const located = locatedLineOf(line);
  return located && path.isAbsolute(located.file) ? displayPath(located.file, cwd) + line.slice(located.file.length) : line;
}

/** `--debug` takes an optional port: `--debug 5678`, `--debug=5678`, or `--debug` alone (any free port). */
function withDebugValue(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== '--debug') out.push(args[i]);
    else if (/^\d+$/.test(args[i + 1] ?? '')) out.push(`--debug=${args[++i]}`);
    else out.push('--debug=0');
  }
  return out;
}

export async function runCommand(args: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const { values: flags, positionals } = parseArgs({
    args: withDebugValue(args), allowPositionals: true, strict: true,
    options: {
      debug: { type: 'string' },
      date: { type: 'string' }, 'map-index': { type: 'string' }, engine: { type: 'string', default: 'auto' }, image: { type: 'string' },
      workspace: { type: 'string' }, 'allow-host-access': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      verbose: { type: 'boolean', short: 'v' },
    },
  });
  if (flags.help) {
    out(RUN_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 3) throw new UsageError('run takes <dag_file> <dag_id> <task_id>', 'run');
  const [dagArg, dagId, taskId] = positionals;
  const dagFile = checkRuntimeFlags(flags, dagArg, 'run');
  const mapIndex = flags['map-index'] === undefined ? undefined : Number(flags['map-index']);
  if (mapIndex !== undefined && !Number.isInteger(mapIndex)) throw new UsageError('--map-index must be a whole number', 'run');
  const debugPort = flags.debug === undefined ? undefined : Number(flags.debug);
  if (debugPort !== undefined && !(Number.isInteger(debugPort) && debugPort >= 0 && debugPort < 65536)) throw new UsageError(`--debug takes a port, not "${flags.debug}"`, 'run');

  return inDagRuntime(dagFile, flags, err, { refused: 'fix the runtime files above before running a task', stopping: 'stopping the task and cleaning up' }, async ({ runtime, engine, signal, progress }) => {
    const outcome = await engine.run({
      dagFile, runtime, dagId, taskId, date: flags.date, mapIndex, signal,
      onProgress: progress.report,
      onBuildOutput: flags.verbose ? (line) => { progress.clear(); err(`| ${line}`); } : undefined,
      debug: debugPort === undefined ? undefined : {
        port: debugPort || undefined,
        onReady: ({ host, port }) => {
          progress.clear();
          err(`debugpy is waiting for a client on ${host}:${port} (breakpoints by host path need no path mapping). VS Code, in launch.json:`);
          err(`  ${JSON.stringify({ name: `Attach to ${dagId}.${taskId}`, type: 'debugpy', request: 'attach', connect: { host, port } })}`);
        },
      },
      onLog: (line) => {
        progress.clear();
        out(locatedHere(line));
      },
    });
    progress.clear();
    err(`${dagId}.${taskId}: ${outcome.exitCode === 0 ? 'success' : 'failed'} in ${(outcome.durationMs / 1000).toFixed(1)}s`);
    return outcome.exitCode;
  });
}
