import { parseArgs } from 'node:util';
import { renderedText, templateFailureMessage } from '../core/project/renderedTemplate';
import { checkRuntimeFlags, inDagRuntime } from './inRuntime';
import { locatedHere } from './run';
import { EXIT, UsageError } from './usage';

export const RENDER_HELP = `Usage: airflow-runtime render <dag_file> <dag_id> <task_id> [--date YYYY-MM-DD] [--map-index N] [--json] [--engine auto|docker|local] [--image IMG]

Renders one task's templated fields for a logical date inside the DAG file's runtime, the way
"airflow tasks render" does, and prints each field under a header line ("# bash_command (bash)").
--date is the logical date (default: now); a mapped task needs --map-index. --json prints
{"dagId", "taskId", "date", "mapIndex", "fields": [{"name", "value", "renderer", "pythonType"}], "failure"}
for tools; what the DAG file prints while it loads goes to stderr.

Exit codes: 0 every field rendered; 1 a template did not render (the field and its template are named), or
the DAG file did not load (its import error at path:line:col); 2 bad usage, runtime file or engine, or cancelled.`;

export async function renderCommand(args: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const { values: flags, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: {
      date: { type: 'string' }, 'map-index': { type: 'string' }, json: { type: 'boolean' }, engine: { type: 'string', default: 'auto' }, image: { type: 'string' },
      workspace: { type: 'string' }, 'allow-host-access': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (flags.help) {
    out(RENDER_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 3) throw new UsageError('render takes <dag_file> <dag_id> <task_id>', 'render');
  const [dagArg, dagId, taskId] = positionals;
  const dagFile = checkRuntimeFlags(flags, dagArg, 'render');
  const mapIndex = flags['map-index'] === undefined ? undefined : Number(flags['map-index']);
  if (mapIndex !== undefined && !(Number.isInteger(mapIndex) && mapIndex >= 0)) throw new UsageError('--map-index must be a whole number, 0 or more', 'render');

  return inDagRuntime(dagFile, flags, err, { refused: 'fix the runtime files above before rendering', stopping: 'stopping and cleaning up' }, async ({ runtime, engine, signal, progress }) => {
    const subject = { dagFile, dagId, taskId, date: flags.date, mapIndex };
    const outcome = await engine.render({
      ...subject, runtime, signal, onProgress: progress.report,
      onLog: (line) => {
        if (!line.trim()) return;
        progress.clear();
        err(locatedHere(line));
      },
    });
    progress.clear();
    if (flags.json) out(JSON.stringify({ dagId, taskId, date: flags.date ?? null, mapIndex: mapIndex ?? null, fields: outcome.fields, failure: outcome.failure ?? null }, null, 2));
    else if (outcome.failure) err(templateFailureMessage(subject, outcome.failure));
    else for (const line of renderedText(outcome)) out(line);
    return outcome.exitCode;
  });
}
