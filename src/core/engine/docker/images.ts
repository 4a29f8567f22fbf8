import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type Docker from 'dockerode';
import { HOST_POWERS, HOW_TO_ALLOW_HOST_ACCESS, type HostAccess, NO_HOST_ACCESS } from '../../runtime/hostPowers';
import { DEFAULT_IMAGE } from '../../runtime/declaredAirflow';
import type { ValueSource } from '../../runtime/resolve';
import type { RuntimeFile } from '../../runtime/read';
import type { RuntimeValues } from '../../runtime/values';
import { imageUnavailableCause } from '../embeddedDefault';
import { EngineError } from '../errors';
import type { WorkOptions } from '../types';
import { buildContextEntries, firstFileOf, packEntries } from './archive';
import { hasAdditions, imageWithAdditions } from './requirementsImage';
import { needsPasswdLookup, userName } from './user';

/** On every image we build: who built it, so that a build only ever replaces a tag of its own. */
export const LABEL_BUILT_BY = 'airflow-runtime.built-by';

interface ProgressLine {
  status?: string;
  id?: string;
  progress?: string;
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/**
 * Follows a pull or build stream to its end. dockerode's followProgress reports success even when a line
 * carries an error, so every line is checked here.
 */
function follow(docker: Docker, stream: NodeJS.ReadableStream, onLine: (line: ProgressLine) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: string | undefined;
    docker.modem.followProgress(stream, (error: Error | null) => {
      if (error) reject(error);
      else if (failure) reject(new Error(failure));
      else resolve();
    }, (line: ProgressLine) => {
      if (line.error || line.errorDetail) failure ??= line.errorDetail?.message ?? line.error;
      onLine(line);
    });
  });
}

/** A present image is known present this long: a folder of files asks once, not once per file. */
const PRESENT_FOR_MS = 10_000;
interface Seen { until: number; user: string }
const seenPresent = new WeakMap<Docker, Map<string, Seen>>();

/** The image's inspect, remembered PRESENT_FOR_MS; undefined when the image is not here. */
async function inspected(docker: Docker, image: string): Promise<Seen | undefined> {
  const seen = seenPresent.get(docker) ?? new Map<string, Seen>();
  seenPresent.set(docker, seen);
  const known = seen.get(image);
  if (known && known.until > Date.now()) return known;
  try {
    const info = await docker.getImage(image).inspect();
    const fresh = { until: Date.now() + PRESENT_FOR_MS, user: info.Config?.User ?? '' };
    seen.set(image, fresh);
    return fresh;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}

async function present(docker: Docker, image: string): Promise<boolean> {
  return (await inspected(docker, image)) !== undefined;
}

/** The user an image runs as (`Config.User`; empty is root). */
export async function imageUserOf(docker: Docker, image: string): Promise<string> {
  const seen = await inspected(docker, image);
  if (!seen) throw new EngineError('image-missing', `image ${image} is not present`);
  return seen.user;
}

/** What a build needs to know of the runtime besides its values: whose it is, and what the person allowed. */
export interface BuildOwner {
  runtime?: { workspaceRoot: string; sources: Record<string, ValueSource>; hostAccess: HostAccess; files?: readonly RuntimeFile[] };
}

/**
 * Makes the runtime's image available per its pull policy or build spec, with its `requirements` and `packages`
 * built on top (requirementsImage.ts); returns the image to run.
 */
export async function ensureImage(docker: Docker, values: RuntimeValues, pulledThisSession: Set<string>, options: WorkOptions & BuildOwner): Promise<string> {
  const base = await ensureBaseImage(docker, values, pulledThisSession, options);
  return hasAdditions(values) ? imageWithAdditions(docker, base, values, options) : base;
}

async function ensureBaseImage(docker: Docker, values: RuntimeValues, pulledThisSession: Set<string>, options: WorkOptions & BuildOwner): Promise<string> {
  if (values.build) return buildImage(docker, values, options);
  const image = values.image ?? DEFAULT_IMAGE;
  const policy = values.pull ?? 'missing';
  const here = await present(docker, image);
  if (policy === 'never') {
    if (here) return image;
    throw new EngineError('image-missing', `image ${image} is not present and the runtime says pull: never`, `build or load ${image} (docker build / docker load), or set pull: missing`);
  }
  if (here && (policy === 'missing' || pulledThisSession.has(image))) return image;
  options.onProgress?.({ stage: 'pull', message: `pulling ${image}` });
  try {
    const stream = await docker.pull(image, { abortSignal: options.signal });
    await follow(docker, stream, (line) => {
      if (line.status) options.onProgress?.({ stage: 'pull', message: [line.id, line.status, line.progress].filter(Boolean).join(' ') });
    });
  } catch (error) {
    const detail = (error as Error).message;
    if (here) {
      options.onProgress?.({ stage: 'pull', message: `pull of ${image} failed (${detail}); using the local copy` });
      return image;
    }
    throw new EngineError('image-pull-failed', `cannot pull ${image}: ${imageUnavailableCause(detail)} (Docker: ${detail.split('\n')[0]})`,
      'check the image name and your registry login (docker login), build the image here, or let the local runtime emulator run it (--engine auto, with local.requirements or an image tag that names the Airflow version)');
  }
  pulledThisSession.add(image);
  return image;
}

/**
 * Who a build is: the project root and the runtime file that says `build`. A build may replace a tag only where
 * the image there carries the same (or there is none).
 */
export function builtBy(owner: BuildOwner): string {
  const source = owner.runtime?.sources.build;
  const file = source?.kind === 'file' ? source.file : '';
  return createHash('sha256').update(`${owner.runtime?.workspaceRoot ?? ''}\0${file}`).digest('hex').slice(0, 16);
}

/**
 * Refuses to build onto a tag that holds an image this project's runtime file did not build (another project's,
 * one pulled or built by hand): every runtime using that tag would run our build. The person may allow it.
 */
async function refuseForeignTag(docker: Docker, tag: string, ours: string, owner: BuildOwner, generated: boolean): Promise<string | undefined> {
  let labels: Record<string, string> | undefined;
  try {
    labels = (await docker.getImage(tag).inspect()).Config?.Labels ?? {};
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
  if (labels[LABEL_BUILT_BY] === ours) return undefined;
  // a generated tag without the label: our own build from before builds were labelled
  if (generated && labels[LABEL_BUILT_BY] === undefined) return undefined;
  const hostAccess = owner.runtime?.hostAccess ?? NO_HOST_ACCESS;
  const source = owner.runtime?.sources.image ?? owner.runtime?.sources.build;
  const where = source?.kind === 'file' ? `${source.file}:${source.line}: ` : '';
  const whose = labels[LABEL_BUILT_BY] ? 'another project\'s (or another runtime file\'s) build' : 'an image this project did not build';
  if (hostAccess.allowed) return `${where}building over ${tag}, which holds ${whose}: allowed by ${hostAccess.by ?? 'host access'}`;
  throw new EngineError('bad-runtime',
    `${where}\`build\` would replace the image ${tag}, which holds ${whose}: ${HOST_POWERS['foreign-image-tag'].opens}`,
    `give the build a tag of its own (\`image: <project>/<name>:<tag>\`), or leave \`image\` out to use a generated one; ${HOW_TO_ALLOW_HOST_ACCESS}`);
}

async function buildImage(docker: Docker, values: RuntimeValues, options: WorkOptions & BuildOwner): Promise<string> {
  const build = values.build!;
  const dockerfile = build.dockerfile ?? 'Dockerfile';
  const tag = values.image ?? `airflow-runtime-build/${createHash('sha256').update(`${build.context}\0${dockerfile}\0${build.target ?? ''}`).digest('hex').slice(0, 12)}:latest`;
  const ours = builtBy(options);
  const granted = await refuseForeignTag(docker, tag, ours, options, values.image === undefined);
  if (granted) options.onProgress?.({ stage: 'build', message: granted });
  // Packed here rather than by dockerode, so that .dockerignore is honoured as the docker CLI does it.
  const context = packEntries(buildContextEntries(build.context, dockerfile));
  options.onProgress?.({ stage: 'build', message: `building ${tag} from ${path.join(build.context, dockerfile)}` });
  try {
    const stream = await docker.buildImage(context, {
      // forcerm: a failing step's container is removed too (it was left behind, exited)
      t: tag, dockerfile, target: build.target, labels: { [LABEL_BUILT_BY]: ours }, rm: true, forcerm: true,
      buildargs: Object.fromEntries(Object.entries(build.args ?? {}).map(([k, v]) => [k, String(v)])),
      abortSignal: options.signal,
    });
    await follow(docker, stream, (line) => {
      const text = line.stream?.trimEnd();
      if (text) options.onProgress?.({ stage: 'build', message: text });
    });
  } catch (error) {
    throw new EngineError('image-build-failed', `building ${tag} failed: ${(error as Error).message}`, `fix ${path.join(build.context, dockerfile)} (docker build ${build.context} shows the same error)`);
  }
  return tag;
}

/** uids found in images' /etc/passwd, by image id and name: a name is looked up once per image. */
const passwdUids = new WeakMap<Docker, Map<string, number | undefined>>();

/**
 * The uid `user`'s name has in the image's /etc/passwd, read from a container that is created and never started;
 * undefined when the user is a number or root (no look needed), or the file cannot be read or has no such name.
 */
export async function uidInImage(docker: Docker, image: string, user: string | undefined): Promise<number | undefined> {
  if (!needsPasswdLookup(user)) return undefined;
  const name = userName(user);
  let id: string;
  try {
    id = (await docker.getImage(image).inspect()).Id;
  } catch {
    return undefined;
  }
  const cache = passwdUids.get(docker) ?? new Map<string, number | undefined>();
  passwdUids.set(docker, cache);
  const key = `${id}\0${name}`;
  if (cache.has(key)) return cache.get(key);
  let uid: number | undefined;
  let container: Docker.Container | undefined;
  try {
    container = await docker.createContainer({ Image: image, Cmd: ['true'], Entrypoint: [], NetworkDisabled: true, Labels: { 'airflow-runtime.managed': 'true' } });
    const passwd = await firstFileOf(await container.getArchive({ path: '/etc/passwd' }));
    const entry = passwd?.toString('utf8').split('\n').map((line) => line.split(':')).find((fields) => fields[0] === name && fields.length >= 3);
    uid = entry && /^\d+$/.test(entry[2]) ? Number(entry[2]) : undefined;
  } catch {
    uid = undefined; // no /etc/passwd (distroless, scratch): the name is judged by ROOT_ALIASES
  } finally {
    await container?.remove({ force: true }).catch(() => undefined);
  }
  cache.set(key, uid);
  return uid;
}

/** `apache/airflow` for `docker.io/library/…`-style names too: how Docker lists a repository in RepoDigests. */
function repositoryOf(reference: string): string {
  const name = reference.split('@')[0];
  const lastSlash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  const repository = colon > lastSlash ? name.slice(0, colon) : name;
  return repository.replace(/^(docker\.io|index\.docker\.io)\//, '').replace(/^library\//, '');
}

/**
 * The image's repo digest (`sha256:…`) as the engine knows it (`docker image inspect`'s RepoDigests for its own
 * repository): null when the image is not here, or was built here and never pushed or pulled. An image named by
 * digest is its own answer.
 */
export async function repoDigestOf(docker: Docker, image: string): Promise<string | null> {
  const pinned = /@(sha256:[0-9a-f]{64})$/.exec(image);
  if (pinned) return pinned[1];
  let digests: string[];
  try {
    digests = (await docker.getImage(image).inspect()).RepoDigests ?? [];
  } catch {
    return null;
  }
  const repository = repositoryOf(image);
  const own = digests.find((d) => repositoryOf(d) === repository);
  return own ? own.slice(own.indexOf('@') + 1) : null;
}
