/**
 * A runtime's image when its runtime file says `requirements` or `packages` on top of `image`: built on first use,
 * tagged by a hash of what makes it (the base image's id, the requirements' and packages' text, this recipe's
 * version, the index settings), reused as long as that tag exists, and never built twice at once (a lock shared
 * by every process of this user).
 *
 * The build is a container of the base image that installs, committed as one layer (no Dockerfile, no context):
 * the CA bundle and pip.conf it is given sit in a folder that the same step deletes, so they are not in the image.
 * Packages go into the image's own `python` (the one that runs Airflow and the harness), as the image's own user,
 * with Airflow held at the version it has (a constraint); Debian packages are installed first, as root, by apt-get.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type Docker from 'dockerode';
import { pack as tarPack } from 'tar-stream';
import type { Problem } from '../../problems';
import { normalName, packageLines, type RequirementLine, requirementLines, withIncludes } from '../../runtime/requirements';
import { requirementsPlace, type RequirementsSource } from '../../runtime/requirementsPlace';
import type { RuntimeValues } from '../../runtime/values';
import { cacheDir } from '../cache';
import { BUILD_STEP_MS } from '../deadlines';
import { EngineError, isCancelled } from '../errors';
import { exclusiveLock } from '../fileLock';
import { ME, ownerId } from '../owner';
import { shareRuntimeCache } from '../sharedRuntimeCache';
import { SharedWork } from '../sharedWork';
import { requirementsListLines } from '../requirementsList';
import type { WorkOptions } from '../types';
import { runContainerJob } from './containerJob';
import { hostPipSettings, type HostPipSettings, pipConfFor } from './hostPip';
import { type LocalPackage, localPackageOf } from './localPackages';

/** Raised when the recipe below changes what it makes: every image of an older recipe is built again. */
export const RECIPE_VERSION = 1;
/** The repository of every image built here; its tag is the hash of the inputs. */
export const BUILT_REPOSITORY = 'airflow-runtime-built';
/** On every image built here: what it was made from (JSON, no secrets), for people and for `cleanup --images`. */
export const LABEL_INPUTS = 'airflow-runtime.built-from';
/** On a build step's container (and so on the image it makes): which process of ours ran it. */
export const LABEL_BUILD_STEP = 'airflow-runtime.build-step';

/**
 * The name of each build step's container starts so, then its user and pid. The label alone does not tell a build
 * step: the image it commits keeps the label, and so does every container of that image; a name is not kept.
 */
export const BUILD_STEP_NAME = 'airflow-runtime-build';
export const nameSafe = (text: string) => text.replace(/[^A-Za-z0-9_.-]/g, '_');

/** Where the build's own files are, inside the build container; removed by the same step. */
const BUILD_DIR = '/airflow-runtime-build';

export function hasAdditions(values: RuntimeValues): boolean {
  return values.requirements !== undefined || values.packages !== undefined;
}

/** What the build installs, read from the runtime's values (a file is read now: its content is the input). */
export interface Additions {
  requirementsText: string;
  /** Includes (`-r`) followed: an included line stands at the line of the `-r` that includes it. */
  requirements: RequirementLine[];
  /** The lines of the files included with `-c`, at the line of their `-c`. */
  constraints: RequirementLine[];
  /** The requirements file (absolute), or undefined for a list in the runtime file. */
  requirementsFile?: string;
  packages: string[];
}

/** `runtime`: where the runtime's `requirements` were said, for a list's local paths (requirementsListLines). */
export function additionsOf(values: RuntimeValues, runtime?: RequirementsSource): Additions {
  const declared = values.requirements;
  const requirementsFile = typeof declared === 'string' ? declared : undefined;
  const requirementsText = requirementsFile ? readText(requirementsFile, 'requirements') : (Array.isArray(declared) ? declared : []).join('\n');
  const packagesSource = typeof values.packages === 'string' ? readText(values.packages, 'packages') : values.packages ?? [];
  const lines = requirementsFile ? requirementLines(requirementsText, path.dirname(requirementsFile)) : requirementsListLines(Array.isArray(declared) ? declared : [], runtime).lines;
  const { requirements, constraints } = withIncludes(lines, (file) => readText(file, 'requirements'));
  return {
    requirementsText,
    requirements,
    constraints,
    requirementsFile,
    packages: packageLines(packagesSource).map((p) => p.name),
  };
}

function readText(file: string, field: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new EngineError('bad-runtime', `cannot read the ${field} file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, `fix \`${field}\` in the runtime file`);
  }
}

/** Index URLs without their user and password: what a label may show. */
function withoutCredentials(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//');
}

/** The local packages the requirements install from, by the requirement's index (copied into the build). */
function localPackages(additions: Additions): (LocalPackage | undefined)[] {
  return additions.requirements.map((requirement, index) => localPackageOf(requirement, index, BUILD_DIR));
}

/** The tag and the label of the image made from `base` (by id) plus these additions. */
export function builtImageName(baseId: string, base: string, additions: Additions, pip: HostPipSettings): { tag: string; label: string } {
  const local = localPackages(additions).flatMap((p) => (p ? [p.digest] : []));
  const inputs = {
    ...(local.length ? { local } : {}),
    // the lines as pip reads them: a comment or a blank line changes nothing
    recipe: RECIPE_VERSION, baseId, requirements: additions.requirements.map((r) => r.text), packages: additions.packages,
    ...(additions.constraints.length ? { constraints: additions.constraints.map((r) => r.text) } : {}),
    indexUrl: pip.indexUrl, extraIndexUrls: pip.extraIndexUrls, trustedHosts: pip.trustedHosts,
  };
  const hash = createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 24);
  const label = JSON.stringify({
    recipe: RECIPE_VERSION, base, baseId,
    requirements: createHash('sha256').update(additions.requirementsText).digest('hex').slice(0, 16),
    requirementsFile: additions.requirementsFile, packages: additions.packages,
    indexUrl: pip.indexUrl && withoutCredentials(pip.indexUrl), extraIndexUrls: pip.extraIndexUrls.map(withoutCredentials),
  });
  return { tag: `${BUILT_REPOSITORY}:${hash}`, label };
}

/** Builds of this process in flight, by tag: the files of one runtime parsed at once wait for one build. */
const inFlight = new Map<string, SharedWork<string>>();

/** pip failed: its output's tail, put at a line by each waiter (its own requirements file and runtime file). */
class PipFailure extends Error {
  constructor(readonly tail: string) {
    super('pip failed');
  }
}

export interface BuildContext {
  /** Where `requirements` was said: a list's items are found at their lines of the runtime file. */
  runtime?: RequirementsSource;
}

/**
 * The image to run for a runtime with additions on `base` (present already): its built image, built now when it
 * does not exist. Errors of a requirement are EngineErrors whose `problems` are at its line.
 */
export async function imageWithAdditions(docker: Docker, base: string, values: RuntimeValues, options: WorkOptions & BuildContext): Promise<string> {
  const additions = additionsOf(values, options.runtime);
  // a requirements file of comments only adds nothing: the base image as it is, no tag of ours on it
  if (additions.packages.length === 0 && installable(additions) === 0) return base;
  const baseInfo = await docker.getImage(base).inspect();
  const pip = hostPipSettings();
  const { tag, label } = builtImageName(baseInfo.Id, base, additions, pip);
  // a provider may bring tables of its own (a DB manager): its image migrates its own template
  // (only named requirements, none a provider: a local package or a URL may bring a provider we cannot see here)
  const isOption = (r: RequirementLine) => r.text.startsWith('-') && !/^(-e|--editable)\b/.test(r.text) && !r.localPath;
  if (additions.requirements.every((r) => isOption(r) || (r.name && !normalName(r.name).startsWith('apache-airflow-providers-')))) shareRuntimeCache(tag, base);
  if (await exists(docker, tag)) return tag;
  let build = inFlight.get(tag);
  if (!build || build.stopped) {
    const shared = new SharedWork((work) => buildOnce(docker, tag, label, baseInfo, additions, pip, work));
    inFlight.set(tag, shared);
    // a failure is remembered only for the files that are waiting for it; the next parse tries again
    const forget = () => { if (inFlight.get(tag) === shared) inFlight.delete(tag); };
    void shared.settled.then(forget);
    build = shared;
  }
  return build.join(options).catch((error: unknown) => {
    throw error instanceof PipFailure ? requirementFailure(error.tail, additions, options, pip) : error;
  });
}

async function exists(docker: Docker, tag: string): Promise<boolean> {
  try {
    await docker.getImage(tag).inspect();
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}

async function buildOnce(docker: Docker, tag: string, label: string, base: Docker.ImageInspectInfo, additions: Additions, pip: HostPipSettings, options: WorkOptions): Promise<string> {
  const say = (message: string) => options.onProgress?.({ stage: 'build', message });
  // the editor and CLIs share the engine: one builds, the others wait and reuse it
  const lock = cacheDir('locks', `${tag.replace(/[^A-Za-z0-9_.-]/g, '_')}.lock`);
  const release = await exclusiveLock(lock, () => exists(docker, tag), (holder) => say(`waiting for process ${holder}, which builds this runtime's image`), options.signal);
  try {
    if (await exists(docker, tag)) return tag;
    const started = Date.now();
    let image = base.Id;
    if (additions.packages.length) {
      say(`building the runtime: ${additions.packages.length} Debian package${additions.packages.length === 1 ? '' : 's'} (apt-get, as root)`);
      image = await runStep(docker, image, base, '0:0', aptScript(additions.packages), [], options, (tail) => {
        throw new EngineError('image-build-failed', `installing the Debian packages ${additions.packages.join(' ')} failed: ${lastLines(tail, 2)}`,
          'check the package names (apt-cache search NAME on a machine of the base image\'s Debian), and that the base image has apt-get');
      }, label);
    }
    const count = installable(additions);
    if (count > 0) {
      say(`building the runtime (0 of ${count} requirements)`);
      const local = localPackages(additions);
      const files: BuildFile[] = [
        ...local.flatMap((p) => p?.entries ?? []),
        { name: 'requirements.txt', content: additions.requirements.map((r, i) => local[i]?.text ?? r.text).join('\n') + '\n' },
        { name: 'constraints.txt', content: additions.constraints.map((r) => r.text).join('\n') + '\n' },
        { name: 'pip.conf', content: pipConfFor(pip, `${BUILD_DIR}/ca.crt`) },
        ...(pip.caBundle ? [{ name: 'ca.crt', content: pip.caBundle }] : []),
      ];
      // one step per requirement the file names, as pip collects it (or finds it there already)
      const named = new Set(additions.requirements.flatMap((r) => (r.name ? [normalName(r.name)] : [])));
      const counted = new Set<string>();
      const onLine = (line: string) => {
        const name = /^(?:Collecting|Requirement already satisfied:) ([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(line)?.[1];
        if (!name || !named.has(normalName(name)) || counted.has(normalName(name))) return;
        counted.add(normalName(name));
        say(`building the runtime (${Math.min(counted.size, count)} of ${count} requirements)`);
      };
      const shown = (url: string) => withoutCredentials(url); // the log is shown and kept: no index password in it
      options.onBuildOutput?.(`pip: the host's settings: index ${pip.indexUrl ? shown(pip.indexUrl) : 'pip\'s default'}${pip.extraIndexUrls.length ? ` and ${pip.extraIndexUrls.map(shown).join(' ')}` : ''}, CA bundle ${pip.caFrom ?? 'none named (pip\'s own)'}`);
      image = await runStep(docker, image, base, base.Config?.User ?? '', pipScript(), files, { ...options, onLine }, (tail) => {
        throw new PipFailure(tail);
      }, label);
    }
    await docker.getImage(image).tag({ repo: BUILT_REPOSITORY, tag: tag.slice(BUILT_REPOSITORY.length + 1) });
    // the intermediate image of a packages step is left untagged under the final one (a parent layer)
    const added = ((await docker.getImage(tag).inspect()).Size ?? 0) - (base.Size ?? 0);
    const size = added >= 1024 * 1024 ? `${(added / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(added / 1024))} KB`;
    say(`built ${tag} in ${Math.round((Date.now() - started) / 1000)} s (+${size} on ${(JSON.parse(label) as { base: string }).base})`);
    return tag;
  } finally {
    release();
  }
  function lastLines(text: string, n: number): string {
    return text.trim().split('\n').slice(-n).join(' ').trim();
  }
}

/** Requirement lines that install something (not options such as `--extra-index-url`). */
function installable(additions: Additions): number {
  return additions.requirements.filter((r) => !r.text.startsWith('-') || r.localPath).length;
}

function aptScript(packages: string[]): string {
  return [
    'set -e', 'export DEBIAN_FRONTEND=noninteractive',
    'apt-get update -qq',
    `apt-get install -y -qq --no-install-recommends ${packages.join(' ')}`,
    'rm -rf /var/lib/apt/lists/*',
  ].join('\n');
}

/** pip in the image's own Python, Airflow held at its version; the build's files removed in the same step. */
function pipScript(): string {
  return [
    `trap 'rm -rf ${BUILD_DIR}' EXIT`,
    `export PIP_CONFIG_FILE=${BUILD_DIR}/pip.conf PIP_NO_CACHE_DIR=1`,
    'unset PIP_USER_AGENT_USER_DATA',
    `python -c 'import importlib.metadata as m; print("apache-airflow==" + m.version("apache-airflow"))' > ${BUILD_DIR}/hold.txt || exit 3`,
    `python -m pip install -r ${BUILD_DIR}/requirements.txt -c ${BUILD_DIR}/hold.txt -c ${BUILD_DIR}/constraints.txt`,
  ].join('\n');
}

/**
 * One step: a container of `image` that runs `script` with `files` in BUILD_DIR, committed with the base image's
 * own settings (user, command, entrypoint, env, working folder) and our label. Returns the new image's id.
 */
async function runStep(
  docker: Docker, image: string, base: Docker.ImageInspectInfo, user: string, script: string,
  files: BuildFile[], options: WorkOptions & { onLine?: (line: string) => void }, onFailure: (tail: string) => never,
  label: string,
): Promise<string> {
  const spec: Docker.ContainerCreateOptions = {
    name: `${BUILD_STEP_NAME}-${nameSafe(ME.user)}-${process.pid}-${randomBytes(3).toString('hex')}`,
    Image: image, User: user, Entrypoint: [], Cmd: ['/bin/sh', '-c', script], Env: [], WorkingDir: '/',
    // not our containers' labels: a commit keeps the container's labels, and every container of the image would
    // inherit them (cleanup would take a production container for a leftover of a dead process of ours)
    Labels: { [LABEL_BUILD_STEP]: ownerId() },
    // the network pip needs; nothing of the host mounted; no privilege gained through setuid binaries
    HostConfig: { SecurityOpt: ['no-new-privileges'], PidsLimit: 1024, NetworkMode: 'bridge' },
  };
  const config = base.Config ?? ({} as Docker.ImageInspectInfo['Config']);
  const outcome = await runContainerJob(docker, spec, {
    signal: options.signal,
    deadlineMs: BUILD_STEP_MS,
    hints: {
      deadline: 'a build step has an hour: run the build with --verbose to see where pip or apt-get waits (an index that does not answer, a package that compiles)',
      outOfMemory: 'a requirement that compiles may need more memory than Docker gives (docker info: Total Memory); prefer a version with a wheel',
    },
    onLine: (line) => {
      options.onBuildOutput?.(line);
      options.onLine?.(line);
    },
    prepare: async (container) => {
      if (files.length) await container.putArchive(packFiles(files), { path: '/' });
    },
    // committed only when the step succeeded: a failed step's container is removed with what it wrote
    collect: async (container) => (await container.inspect()).State.ExitCode !== 0 ? undefined : (await container.commit({
      comment: 'airflow-runtime: requirements and packages on top of the base image',
      User: config.User ?? '', Cmd: config.Cmd ?? [], Entrypoint: config.Entrypoint ?? [], Env: config.Env ?? [], WorkingDir: config.WorkingDir ?? '',
      Labels: { ...(config.Labels ?? {}), [LABEL_INPUTS]: label },
    }) as { Id: string }).Id,
  }).catch((error: unknown) => {
    if (isCancelled(error, options.signal)) throw new EngineError('cancelled', 'the runtime\'s build was cancelled');
    throw error;
  });
  if (outcome.exitCode !== 0 || !outcome.collected) onFailure(outcome.tail);
  return outcome.collected!;
}

/** A file (or folder) the build is given, by its path in the build's folder. */
interface BuildFile {
  name: string;
  content?: string | Buffer;
  directory?: boolean;
}

/**
 * The build's folder as a tar, its folders writable by anyone: the step runs as the image's user, who must delete
 * what it was given (the CA bundle, pip.conf) and whose pip builds a local package in place.
 */
function packFiles(files: BuildFile[]): NodeJS.ReadableStream {
  const archive = tarPack();
  archive.entry({ name: BUILD_DIR.slice(1), type: 'directory', mode: 0o777, uid: 0, gid: 0 });
  for (const file of files) {
    const name = `${BUILD_DIR.slice(1)}/${file.name}`;
    if (file.directory) archive.entry({ name, type: 'directory', mode: 0o777, uid: 0, gid: 0 });
    else archive.entry({ name, mode: 0o644, uid: 0, gid: 0 }, file.content ?? '');
  }
  archive.finalize();
  return archive as unknown as NodeJS.ReadableStream;
}

/**
 * pip's failure as a problem at the requirement's line: pip names the line (`(from -r FILE (line 3))`) where it
 * can, else the distribution (`No matching distribution found for X`, `The user requested X`), found by name.
 */
export function requirementFailure(tail: string, additions: Additions, context: BuildContext, pip?: Pick<HostPipSettings, 'caFrom'>): EngineError {
  const lines = tail.split('\n').map((l) => l.trimEnd());
  const errors = lines.filter((l) => /^ERROR: /.test(l)).map((l) => l.replace(/^ERROR: /, ''));
  const byLine = /\(from -r \S+ \(line (\d+)\)\)|\(from line (\d+) of \S+\)/;
  let line: number | undefined;
  for (const text of [...errors, ...lines]) {
    const found = byLine.exec(text);
    if (found) {
      const index = Number(found[1] ?? found[2]);
      line = additions.requirements[index - 1]?.line; // the build's file has one requirement per line
      if (line) break;
    }
  }
  const airflowLine = additions.requirements.find((r) => r.name && normalName(r.name) === 'apache-airflow');
  const conflict = lines.some((l) => /conflict is caused by|ResolutionImpossible/.test(l));
  const airflowHeld = conflict && lines.some((l) => /apache-airflow==[^\s]+ \(constraint\)|requested \(constraint\) apache-airflow|The user requested \(constraint\) apache-airflow/i.test(l));
  let reason = errors.find((e) => !/^ResolutionImpossible/.test(e)) ?? lines.filter(Boolean).slice(-1)[0] ?? 'pip failed';
  reason = reason.replace(/\s*\(from -r \S+ \(line \d+\)\)/, '').replace(/ \(from line \d+ of \S+\)/, '');
  if (airflowHeld) {
    const requested = lines.map((l) => /The user requested (?!\(constraint\))(\S+)/.exec(l.trim())?.[1]).filter(Boolean) as string[];
    const blamed = requested.map((name) => additions.requirements.find((r) => r.name && normalName(r.name) === normalName(name.split(/[<>=!~[;]/)[0]))).find(Boolean) ?? airflowLine;
    line = blamed?.line ?? line;
    const held = /apache-airflow==([^\s]+) \(constraint\)|constraint\) apache-airflow==([^\s]+)/.exec(tail);
    reason = `"${blamed?.text ?? requested[0] ?? 'a requirement'}" would change Airflow's version, which the runtime holds at the base image's (${held?.[1] ?? held?.[2] ?? 'its'}): choose a base image with the Airflow you want (\`image\`), or a version of this package that works with it`;
  } else if (line === undefined) {
    const name = /(?:No matching distribution found for|requirement) ([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(reason)?.[1];
    line = name ? additions.requirements.find((r) => r.name && normalName(r.name) === normalName(name))?.line : undefined;
  }
  // "no version satisfies" hides the cause when the index could not be reached at all
  if (!airflowHeld) reason = untrustedIndex(lines, pip) ?? reason;
  const { file, lineOf } = requirementsPlace(additions.requirementsFile, context.runtime);
  const at = lineOf(line ?? 1);
  const problem: Problem = { file, severity: 'error', code: 'bad-value', message: `pip: ${reason}`, start: { line: at, column: 1 }, end: { line: at, column: 1 } };
  return new EngineError('image-build-failed', `${file}:${at}: error: ${problem.message}`,
    'fix the requirement (the build\'s whole log: --verbose in the CLI, the Airflow Runtime output channel in the editor)', [problem]);
}

/** pip's words when it could not verify the index's TLS certificate (a proxy's CA it was not given), or undefined. */
function untrustedIndex(lines: string[], pip: Pick<HostPipSettings, 'caFrom'> | undefined): string | undefined {
  // pip's "Could not fetch URL" line names the host; its retry warnings before it do not
  const failed = lines.find((l) => /problem confirming the ssl certificate/i.test(l)) ?? lines.find((l) => /CERTIFICATE_VERIFY_FAILED/.test(l));
  if (!failed) return undefined;
  const host = /host='([^']+)'|https:\/\/([^/\s]+)/.exec(failed);
  const why = /certificate verify failed: ([^(']+)/.exec(failed)?.[1]?.trim() ?? 'certificate verify failed';
  const given = pip?.caFrom ? `it was given the CA bundle ${pip.caFrom} of the host's pip, which does not hold this CA` : 'the host\'s pip names no CA bundle (PIP_CERT, pip config `cert`, REQUESTS_CA_BUNDLE or SSL_CERT_FILE)';
  return `could not verify the TLS certificate of ${host?.[1] ?? host?.[2] ?? 'the index'} (${why}): the build trusts what the host's pip trusts, and ${given}`;
}
