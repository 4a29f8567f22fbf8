import type Docker from 'dockerode';
import { ME, ownerId, parseOwner, removable } from '../owner';

/** Labels on every container we make, so that `cleanup` and a later start can find leftovers. */
export const LABEL_MANAGED = 'airflow-runtime.managed';
export const LABEL_OWNER = 'airflow-runtime.owner';
/** The user who started it, with LABEL_OWNER's host: `cleanup` removes only this user's from this machine. */
export const LABEL_USER = 'airflow-runtime.user';
export const LABEL_DAG_FILE = 'airflow-runtime.dag-file';

/** The labels of a container we make for `dagFile` (a warm one: `warm:<DAG root>`). */
export function ourLabels(dagFile: string): Record<string, string> {
  return { [LABEL_MANAGED]: 'true', [LABEL_OWNER]: ownerId(), [LABEL_USER]: ME.user, [LABEL_DAG_FILE]: dagFile };
}

export interface OurContainer {
  id: string;
  image: string;
  state: string;
  owner: string;
  /** Ours (this user, this machine) and, unless `all`, its owner gone. */
  removable: boolean;
}

/** Every container airflow-runtime started, on this engine, with whether `cleanup` may remove it. */
export async function ourContainers(docker: Docker, all: boolean): Promise<OurContainer[]> {
  const listed = await docker.listContainers({ all: true, filters: { label: [`${LABEL_MANAGED}=true`] } });
  return listed.map((info) => {
    const owner = parseOwner(info.Labels[LABEL_OWNER], info.Labels[LABEL_USER]);
    const user = info.Labels[LABEL_USER] ?? 'an unknown user';
    return { id: info.Id, image: info.Image, state: info.State, owner: `${user} on ${info.Labels[LABEL_OWNER] ?? 'an unknown host'}`, removable: removable(owner, all) };
  });
}

/** Removes the containers `cleanup` may remove; returns them. */
export async function removeOrphans(docker: Docker, options: { all?: boolean; exitedOnly?: boolean; dryRun?: boolean } = {}): Promise<OurContainer[]> {
  const doomed = (await ourContainers(docker, options.all ?? false)).filter((c) => c.removable && (!options.exitedOnly || c.state === 'exited'));
  if (!options.dryRun) await Promise.all(doomed.map((c) => docker.getContainer(c.id).remove({ force: true }).catch(() => undefined)));
  return doomed;
}

/**
 * A sweep to call before each container an engine makes; it runs once, in the background: removes this user's
 * containers from this machine that have exited and whose owner is gone (a CLI killed with -9 leaves its last
 * cold container exited, not running).
 */
export function orphanSweep(docker: Docker): () => void {
  let swept = false;
  return () => {
    if (swept) return;
    swept = true;
    void removeOrphans(docker, { exitedOnly: true }).catch(() => undefined);
  };
}
