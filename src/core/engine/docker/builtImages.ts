/**
 * What becomes of the images built from runtimes' requirements after the build: pushed to a registry for a
 * deployment (`export --push`), and swept by `cleanup` (old builds, build steps a killed process left).
 */
import type Docker from 'dockerode';
import { EngineError } from '../errors';
import { ME, parseOwner, removable } from '../owner';
import type { WorkOptions } from '../types';
import { BUILD_STEP_NAME, BUILT_REPOSITORY, LABEL_BUILD_STEP, LABEL_INPUTS, nameSafe } from './requirementsImage';

/** A build step's container left by a process of ours that is gone (a CLI killed with -9 mid-build). */
export interface LeftoverBuildStep {
  id: string;
  /** For people: which container, whose, in what state. */
  what: string;
}

/** Build steps' containers whose process is gone: this user's on this machine; with `all`, every one of ours. */
export async function leftoverBuildSteps(docker: Docker, all: boolean): Promise<LeftoverBuildStep[]> {
  const named = new RegExp(`^/?${BUILD_STEP_NAME}-(.+)-\\d+-[0-9a-f]{6}$`);
  const leftovers: LeftoverBuildStep[] = [];
  for (const info of await docker.listContainers({ all: true, filters: { label: [LABEL_BUILD_STEP] } })) {
    const name = info.Names?.find((n) => named.test(n));
    if (!name) continue; // a container of a built image: it inherited the label, it is no build step
    const user = named.exec(name)![1];
    const owner = parseOwner(info.Labels[LABEL_BUILD_STEP], user === nameSafe(ME.user) ? ME.user : user);
    if (!removable(owner, all)) continue;
    leftovers.push({ id: info.Id, what: `build container ${name.replace(/^\//, '')} (${info.State}, of process ${info.Labels[LABEL_BUILD_STEP]}, gone)` });
  }
  return leftovers;
}

/** A built image of ours that `cleanup --images` may remove. */
export interface OldBuiltImage {
  tag: string;
  /** For people: what it was built from, and why it is old. */
  what: string;
}

/**
 * Our built images (BUILT_REPOSITORY, with LABEL_INPUTS) that no container uses and a newer build of the same
 * requirements on the same base replaced; with `all`, every one no container uses. Never anyone else's image.
 */
export async function oldBuiltImages(docker: Docker, all: boolean): Promise<OldBuiltImage[]> {
  const images = (await docker.listImages({ filters: { label: [LABEL_INPUTS] } }))
    .map((info) => ({ info, tags: (info.RepoTags ?? []).filter((t) => t.startsWith(`${BUILT_REPOSITORY}:`)) }))
    .filter(({ tags }) => tags.length > 0);
  const used = new Set((await docker.listContainers({ all: true })).map((c) => c.ImageID));
  const groups = new Map<string, typeof images>();
  for (const image of images) {
    let inputs: { base?: string; requirementsFile?: string } = {};
    try {
      inputs = JSON.parse(image.info.Labels?.[LABEL_INPUTS] ?? '{}') as typeof inputs;
    } catch {
      // not readable: a group of its own
    }
    const group = `${inputs.base ?? ''}\0${inputs.requirementsFile ?? image.info.Id}`;
    groups.set(group, [...(groups.get(group) ?? []), image]);
  }
  const old: OldBuiltImage[] = [];
  for (const [group, members] of groups) {
    members.sort((a, b) => b.info.Created - a.info.Created);
    const [base, file] = group.split('\0');
    members.forEach(({ info, tags }, index) => {
      if (used.has(info.Id) || (!all && index === 0)) return;
      const why = index === 0 ? 'the newest build' : 'replaced by a newer build';
      for (const tag of tags) old.push({ tag, what: `${tag} (${base} + ${file.startsWith('sha256:') ? 'a list of requirements' : file}, ${why})` });
    });
  }
  return old;
}

/**
 * Pushes a built image to `registry` (`host:port`, or `host:port/path`) under our repository and its content tag;
 * returns the pushed name and the registry's digest, so that a deployment runs exactly what was parsed in.
 */
export async function pushBuiltImage(docker: Docker, tag: string, registry: string, options: WorkOptions = {}): Promise<{ name: string; digest: string }> {
  const repository = `${registry.replace(/\/+$/, '')}/${BUILT_REPOSITORY}`;
  const contentTag = tag.slice(tag.lastIndexOf(':') + 1);
  const name = `${repository}:${contentTag}`;
  await docker.getImage(tag).tag({ repo: repository, tag: contentTag });
  options.onProgress?.({ stage: 'pull', message: `pushing ${name}` });
  let digest: string | undefined;
  let failure: string | undefined;
  const stream = await (docker.getImage(name).push({ authconfig: {}, abortSignal: options.signal } as never) as unknown as Promise<NodeJS.ReadableStream>);
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (error: Error | null) => (error ? reject(error) : resolve()), (line: { aux?: { Digest?: string }; error?: string; errorDetail?: { message?: string } }) => {
      if (line.aux?.Digest) digest = line.aux.Digest;
      if (line.error || line.errorDetail) failure ??= line.errorDetail?.message ?? line.error;
    });
  }).catch((error: Error) => { failure ??= error.message; });
  if (failure || !digest) {
    throw new EngineError('image-push-failed', `pushing ${name} failed: ${failure ?? 'the registry gave no digest'}`, `check that ${registry} is a registry this Docker engine can push to (docker push ${name})`);
  }
  return { name, digest };
}
