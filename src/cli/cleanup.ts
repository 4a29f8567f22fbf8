import { parseArgs } from 'node:util';
import { connectDocker } from '../core/engine/docker/connect';
import { ourContainers } from '../core/engine/docker/ourContainers';
import { leftoverBuildSteps, oldBuiltImages } from '../core/engine/docker/builtImages';
import { describeFailure } from '../core/engine/errors';
import { harnessProcesses, type Leftover, tempFolders } from '../core/engine/owner';
import { EXIT } from './usage';

export const CLEANUP_HELP = `Usage: airflow-runtime cleanup [--all] [--images] [--dry-run]

Removes what airflow-runtime started and nothing uses any more: containers, local harness processes and temp
folders of this user on this machine whose owner (an editor window or a CLI process) is gone, and the containers of
runtime builds such an owner left midway. Containers of other users, of other machines sharing the Docker engine,
and of owners still running are kept. Each process and temp folder is said with whose it is (project folder, age,
owner pid) before it is removed.

Options:
  --all       remove every container of ours on this engine (any user or machine, in use or not), and this
              user's harness processes and temp folders in use too
  --images    also remove the images built from runtimes' requirements that a newer build of the same
              requirements file replaced (with --all: every one of them), when no container uses them; never an
              image we did not build
  --dry-run   say what would be removed, remove nothing

Exit codes: 0 done (Docker not reachable is said, not an error: there is nothing of ours there to remove);
2 bad usage.`;

export async function cleanupCommand(args: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const { values: flags } = parseArgs({ args, strict: true, options: { all: { type: 'boolean' }, images: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (flags.help) {
    out(CLEANUP_HELP);
    return EXIT.ok;
  }
  const all = flags.all ?? false;
  const dryRun = flags['dry-run'] ?? false;
  const verb = dryRun ? 'would remove' : 'removed';
  let removed = 0;
  let kept = 0;
  try {
    const connection = await connectDocker();
    for (const container of await ourContainers(connection.docker, all)) {
      const name = `container ${container.id.slice(0, 12)} (${container.image}, ${container.state}, started by ${container.owner})`;
      if (!container.removable) {
        kept++;
        continue;
      }
      if (!dryRun) await connection.docker.getContainer(container.id).remove({ force: true }).catch(() => undefined);
      out(`${verb} ${name}`);
      removed++;
    }
    for (const step of await leftoverBuildSteps(connection.docker, all)) {
      if (!dryRun) await connection.docker.getContainer(step.id).remove({ force: true }).catch(() => undefined);
      out(`${verb} ${step.what}`);
      removed++;
    }
    if (flags.images) {
      for (const image of await oldBuiltImages(connection.docker, all)) {
        if (!dryRun) await connection.docker.getImage(image.tag).remove().catch((error: Error) => err(`airflow-runtime: ${image.tag} not removed: ${error.message}`));
        out(`${verb} image ${image.what}`);
        removed++;
      }
    }
  } catch (error) {
    err(`airflow-runtime: containers not checked: ${describeFailure(error)}`);
  }
  const local: Leftover[] = [...harnessProcesses(all), ...tempFolders(all)];
  for (const leftover of local) {
    out(`${verb} ${leftover.what}`); // whose it is (project, age, owner pid) said before it goes
    if (!dryRun) leftover.remove();
    removed++;
  }
  out(`${removed} ${dryRun ? 'to remove' : 'removed'}; ${kept} container${kept === 1 ? '' : 's'} kept (in use, or another user's or machine's)`);
  return EXIT.ok;
}
