import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { connectDocker, LABEL_MANAGED, LABEL_OWNER } from '../core/engine/docker/dockerEngine';
import { EngineError } from '../core/engine/errors';
import { EXIT } from './usage';

export const CLEANUP_HELP = `Usage: airflow-runtime cleanup [--all]

Removes containers that airflow-runtime started and that nothing uses any more (their owning editor window
or CLI process on this machine is gone). --all removes every one of them, in use or not.

Exit codes: 0 done; 2 Docker is not reachable.`;

function alive(owner: string | undefined): boolean {
  const [host, pid] = (owner ?? '').split(':');
  if (host !== os.hostname() || !pid) return false;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch {
    return false;
  }
}

export async function cleanupCommand(args: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const { values: flags } = parseArgs({ args, strict: true, options: { all: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (flags.help) {
    out(CLEANUP_HELP);
    return EXIT.ok;
  }
  let connection;
  try {
    connection = await connectDocker();
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    err(`airflow-runtime: ${error.describe()}`);
    return EXIT.configOrInfra;
  }
  const containers = await connection.docker.listContainers({ all: true, filters: { label: [`${LABEL_MANAGED}=true`] } });
  let removed = 0;
  for (const info of containers) {
    if (!flags.all && alive(info.Labels[LABEL_OWNER])) continue;
    await connection.docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined);
    out(`removed ${info.Id.slice(0, 12)} (${info.Image}, ${info.State})`);
    removed++;
  }
  out(`${removed} container${removed === 1 ? '' : 's'} removed, ${containers.length - removed} in use kept`);
  return EXIT.ok;
}
