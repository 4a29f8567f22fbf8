import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { removeDeployment } from '../core/deploy/deployment';
import { deploymentId } from '../core/deploy/plan';
import { connectDocker } from '../core/engine/docker/connect';
import { describeFailure } from '../core/engine/errors';
import { findProjectRoot } from '../core/workspace/root';
import { displayPath } from './display';
import { projectFolderOf } from './up';
import { EXIT } from './usage';

export const DOWN_HELP = `Usage: airflow-runtime down [PATH] [--volumes]

Stops and removes the local Airflow that \`airflow-runtime up\` started for the project (PATH or any folder in it;
default: the current folder): every container of the deployment (the task containers too) and its networks.
The database and the logs are kept for the next \`up\` unless --volumes.

Options:
  --volumes          also remove the database and logs volumes (the next \`up\` starts from an empty database)
  --workspace DIR    the project root (default: found from the files, as everywhere)

Exit codes: 0 removed (or nothing was running); 2 bad usage, Docker not reachable.`;

export async function downCommand(args: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const { values: flags, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: { volumes: { type: 'boolean' }, workspace: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (flags.help) {
    out(DOWN_HELP);
    return EXIT.ok;
  }
  const start = projectFolderOf(positionals, 'down');
  const projectRoot = flags.workspace ? path.resolve(flags.workspace) : findProjectRoot(start);
  const id = deploymentId(projectRoot);
  try {
    const { docker } = await connectDocker();
    const removed = await removeDeployment(docker, id, { volumes: flags.volumes ?? false });
    const shown = displayPath(projectRoot) || '.';
    if (removed.containers.length + removed.networks.length + removed.volumes.length === 0) {
      out(`nothing of ${shown}'s local Airflow (${id}) was there`);
      return EXIT.ok;
    }
    out(`removed ${shown}'s local Airflow (${id}): ${removed.containers.length} containers, ${removed.networks.length} networks${flags.volumes ? `, volumes ${removed.volumes.join(', ') || 'none'}` : '; the database and logs are kept (--volumes removes them)'}`);
    return EXIT.ok;
  } catch (error) {
    err(`airflow-runtime: ${describeFailure(error)}`);
    return EXIT.configOrInfra;
  }
}
