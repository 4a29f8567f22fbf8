import { closeSync, openSync, readdirSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ProblemCode, Severity } from '../problems';
import { CONTROL_NAMES, type HostAccess, type HostPowerName, HOW_TO_ALLOW_HOST_ACCESS, networkIsHostPower, NO_HOST_ACCESS } from './hostPowers';
import { packageLines, type RequirementLine, requirementLines } from './requirements';
import type { KeyPath, MountSpec, RuntimeValues } from './values';

export { type HostAccess, HOW_TO_ALLOW_HOST_ACCESS, NO_HOST_ACCESS } from './hostPowers';

/** What the checks need to know of the disk; tests give their own. */
export interface FileProbe {
  /** `other`: a device or pipe (reading /dev/zero never ends); `socket`: a way into a host service. */
  kind(absolutePath: string): 'file' | 'directory' | 'socket' | 'other' | undefined;
  /** Where a path really is, symlinks resolved (the path itself where it does not exist). */
  realpath?(absolutePath: string): string;
  /** Why a file cannot be a text file of NAME=value lines (binary, too big); undefined when it can. */
  notText?(absolutePath: string): string | undefined;
  /** A folder's entries, symlinks not followed (`directory` only for real folders); undefined when unreadable. */
  entries?(absolutePath: string): { name: string; directory: boolean }[] | undefined;
  /** A small text file's text (a requirements or packages file); undefined when it cannot be read as text. */
  text?(absolutePath: string): string | undefined;
}

/** An env file is a few lines; more than this is not one. */
const MAX_ENV_FILE_BYTES = 1024 * 1024;

export const nodeFileProbe: FileProbe = {
  kind(absolutePath) {
    try {
      const stats = statSync(absolutePath);
      return stats.isDirectory() ? 'directory' : stats.isFile() ? 'file' : stats.isSocket() ? 'socket' : 'other';
    } catch {
      return undefined;
    }
  },
  realpath(absolutePath) {
    try {
      return realpathSync(absolutePath);
    } catch {
      return absolutePath;
    }
  },
  notText(absolutePath) {
    try {
      // /proc files report size 0: read a bounded head instead of trusting the size
      const fd = openSync(absolutePath, 'r');
      try {
        const head = Buffer.alloc(MAX_ENV_FILE_BYTES + 1);
        const read = readSync(fd, head, 0, head.length, 0);
        if (read > MAX_ENV_FILE_BYTES) return `is over ${MAX_ENV_FILE_BYTES / 1024 / 1024} MB`;
        if (head.subarray(0, read).includes(0)) return 'holds binary data (a NUL byte)';
        return undefined;
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      return `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
    }
  },
  text(absolutePath) {
    if (nodeFileProbe.notText?.(absolutePath)) return undefined;
    try {
      return readFileSync(absolutePath, 'utf8');
    } catch {
      return undefined;
    }
  },
  entries(absolutePath) {
    try {
      return readdirSync(absolutePath, { withFileTypes: true }).map((entry) => ({ name: entry.name, directory: entry.isDirectory() }));
    } catch {
      return undefined;
    }
  },
};

export interface PathFinding {
  severity: Severity;
  code: ProblemCode;
  message: string;
  at: KeyPath;
  /** Set when the value cannot be used. */
  drop?: KeyPath;
  /** Point at the key (for complaints about a whole section) rather than the value. */
  part?: 'key' | 'value';
  /** Set for a refused host power (HOST_POWERS). */
  power?: HostPowerName;
  /** A place in another file that the field names (a line of its requirements file): the finding goes there. */
  elsewhere?: { file: string; line: number };
}

/** A `local.python` that names a command (`python3.11`) rather than a path is looked up on PATH later, not here. */
export function isPathLike(value: string): boolean {
  return value.includes('/') || value.includes('\\') || value.startsWith('.');
}

export function isInside(folder: string, candidate: string): boolean {
  const relative = path.relative(folder, candidate);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** Host services a mounted folder would expose through the sockets in it. */
const SERVICE_SOCKETS = ['docker.sock', 'podman/podman.sock', 'containerd/containerd.sock', 'crio/crio.sock'];

/** A writable mount's folder is searched this far for control files; a bigger one cannot be vouched for. */
const MAX_ENTRIES_SEARCHED = 20_000;

/** What every field check is given, and how it reports. */
interface FieldCheckContext {
  baseDir: string;
  /** The workspace root, symlinks resolved. */
  workspace: string;
  probe: FileProbe;
  hostAccess: HostAccess;
  findings: PathFinding[];
  /** Where a path really is, symlinks resolved. */
  real(p: string): string;
  /** Outside the workspace after symlinks. */
  outside(absolute: string): boolean;
  /**
   * A host power (hostPowers.ts) asked for at `at`: refused and left out unless this person allowed it, the grant
   * reported either way. Returns whether it is granted.
   */
  power(name: HostPowerName, at: KeyPath, what: string, options?: { drop?: KeyPath; hint?: string; elsewhere?: PathFinding['elsewhere'] }): boolean;
  /** The path resolved against the runtime file's folder when it is a `kind`, else undefined and a finding. */
  expect(value: string, kind: 'file' | 'directory', at: KeyPath, what: string, drop?: KeyPath): string | undefined;
}

type FieldCheck = (values: RuntimeValues, context: FieldCheckContext) => void;

/**
 * One check per field of a runtime file, null for a field that names nothing on the host and opens nothing. Every
 * field must have its entry (the type says so), so a new field cannot skip the question.
 */
export const FIELD_CHECKS: { readonly [Field in keyof RuntimeValues]-?: FieldCheck | null } = {
  image: checkImage,
  pull: null,
  build: checkBuild,
  requirements: checkRequirements,
  packages: checkPackages,
  local: checkLocal,
  env: null,
  envFile: checkEnvFile,
  variables: null,
  connections: null,
  mounts: checkMounts,
  pythonPath: checkPythonPath,
  dagsFolder: checkDagsFolder,
  network: checkNetwork,
  // root by any spelling depends on the image's users: the Docker engine asks (docker/user.ts, power root-user)
  user: null,
  resources: null,
  timeouts: null,
  airflowConfig: null,
  deploy: null,
};

/**
 * Checks what a runtime file names, relative to its folder: the paths exist and are what they must be, the values
 * Docker would choke on are said at their line, and nothing opens the host (HOST_POWERS) unless `hostAccess`.
 */
export function checkPaths(values: RuntimeValues, baseDir: string, workspaceRoot: string, probe: FileProbe, hostAccess: HostAccess = NO_HOST_ACCESS): PathFinding[] {
  const context = fieldCheckContext(baseDir, workspaceRoot, probe, hostAccess);
  for (const [field, check] of Object.entries(FIELD_CHECKS) as [keyof RuntimeValues, FieldCheck | null][]) {
    if (check && values[field] !== undefined) check(values, context);
  }
  return context.findings;
}

function fieldCheckContext(baseDir: string, workspaceRoot: string, probe: FileProbe, hostAccess: HostAccess): FieldCheckContext {
  const findings: PathFinding[] = [];
  const real = (p: string) => probe.realpath?.(p) ?? p;
  const workspace = real(workspaceRoot);
  return {
    baseDir, workspace, probe, hostAccess, findings, real,
    outside: (absolute) => !isInside(workspace, real(absolute)),
    power(name, at, what, options = {}) {
      const { drop = at, hint, elsewhere } = options;
      if (hostAccess.allowed) {
        findings.push({ severity: 'warning', code: 'host-access', at, elsewhere, message: `${what}: allowed by ${hostAccess.by ?? 'host access'}` });
        return true;
      }
      findings.push({ severity: 'error', code: 'host-access', at, drop, elsewhere, message: `${what}: a runtime file cannot open the host by itself${hint ? `; ${hint}` : ''}; ${HOW_TO_ALLOW_HOST_ACCESS}`, power: name });
      return false;
    },
    expect(value, kind, at, what, drop = at) {
      const absolute = path.resolve(baseDir, value);
      const found = probe.kind(absolute);
      if (found === kind) return absolute;
      const names = { file: 'file', directory: 'folder', socket: 'socket', other: 'device or pipe' };
      const problem = found ? `is a ${names[found]}, not a ${names[kind]}` : 'does not exist';
      findings.push({ severity: 'error', code: 'missing-path', message: `${what} "${value}" ${problem} (looked at ${absolute})`, at, drop });
      return undefined;
    },
  };
}

/** A NUL byte or a space in an image name reaches Docker as a raw API error with no line: said here instead. */
function checkImage(values: RuntimeValues, { findings }: FieldCheckContext): void {
  const image = values.image!;
  const bad = [...image].find((c) => c <= ' ' || c === '\x7f');
  if (bad !== undefined) {
    const what = bad === '\0' ? 'a NUL byte' : bad === ' ' ? 'a space' : 'a control character';
    findings.push({ severity: 'error', code: 'bad-value', at: ['image'], drop: ['image'],
      message: `image ${JSON.stringify(image)} holds ${what}: an image reference is [registry/]name[:tag][@digest], with no spaces or control characters` });
  }
}

function checkEnvFile(values: RuntimeValues, { expect, outside, power, real, probe, findings }: FieldCheckContext): void {
  const envFile = expect(values.envFile!, 'file', ['envFile'], 'envFile');
  if (!envFile) return;
  if (outside(envFile) && !power('env-file-outside', ['envFile'], `envFile "${values.envFile}" is outside the workspace (${real(envFile)}): its values would reach the DAG code`)) return;
  const why = probe.notText?.(envFile);
  // never the content: an env file holds secrets, and a wrong one (/proc/self/environ) someone else's
  if (why) findings.push({ severity: 'error', code: 'bad-value', message: `envFile "${values.envFile}" ${why}: an env file is text, one NAME=value per line`, at: ['envFile'], drop: ['envFile'] });
}

function checkBuild(values: RuntimeValues, { expect, outside, power, real, probe, findings }: FieldCheckContext): void {
  const build = values.build!;
  const context = expect(build.context, 'directory', ['build', 'context'], 'build context', ['build']);
  if (!context) return;
  if (path.parse(context).root === context || context === os.homedir()) {
    // everything under it is sent to Docker: walking it takes minutes and reads the user's private files
    findings.push({ severity: 'error', code: 'bad-value', at: ['build', 'context'], drop: ['build'],
      message: `build context "${build.context}" is ${context === os.homedir() ? 'your home folder' : 'the root of the disk'} (${context}): point it at the folder that holds the Dockerfile and what it copies` });
    return;
  }
  if (outside(context) && !power('build-context-outside', ['build', 'context'], `build context "${build.context}" is outside the workspace (${real(context)}): all of it would be sent to Docker`, { drop: ['build'] })) return;
  const dockerfile = build.dockerfile ?? 'Dockerfile';
  const absolute = path.resolve(context, dockerfile);
  if (probe.kind(absolute) !== 'file') {
    const at = build.dockerfile !== undefined ? ['build', 'dockerfile'] : ['build'];
    findings.push({ severity: 'error', code: 'missing-path', message: `Dockerfile "${dockerfile}" does not exist in the build context (looked at ${absolute})`, at, drop: ['build'], part: at.length === 1 ? 'key' : 'value' });
  }
}

/** A requirements file or list: the file exists, pip can read each line, and no local path leaves the workspace. */
function checkRequirements(values: RuntimeValues, context: FieldCheckContext): void {
  const { expect, probe, outside, power, real, findings, baseDir } = context;
  const declared = values.requirements!;
  let source: string | readonly string[] = declared;
  let file: string | undefined;
  if (typeof declared === 'string') {
    file = expect(declared, 'file', ['requirements'], 'requirements file');
    if (!file) return;
    const text = probe.text?.(file);
    if (text === undefined) {
      const why = probe.notText?.(file);
      if (why) findings.push({ severity: 'error', code: 'bad-value', at: ['requirements'], drop: ['requirements'], message: `requirements file "${declared}" ${why}: a requirements file is text, one requirement per line` });
      return;
    }
    source = text;
  }
  const seen = new Set<string>();
  // an included file's lines are checked as the file's own, and said at the line of the `-r`/`-c` that includes them
  const checkLines = (lines: RequirementLine[], topLine?: number, where = '') => {
    for (const line of lines) {
      const here = topLine ?? line.line;
      const at: KeyPath = file ? ['requirements'] : ['requirements', here - 1];
      const elsewhere = file ? { file, line: here } : undefined;
      const said = `"${line.text}"${where}`;
      if (line.problem) {
        // kept, not dropped: the error stops a parse by itself, and the file stays watched for the fix
        findings.push({ severity: 'error', code: 'bad-value', at, elsewhere, message: where ? `${said}: ${line.problem}` : line.problem });
      } else if (line.localPath && !probe.kind(line.localPath)) {
        findings.push({ severity: 'error', code: 'missing-path', at, elsewhere, message: `${said}: ${line.localPath} does not exist` });
      } else if (line.localPath && outside(line.localPath)) {
        power('requirement-outside', at, `${said} installs from ${real(line.localPath)}, outside the workspace (its setup code runs at the install)`, { drop: ['requirements'], elsewhere });
      } else if (line.include && !seen.has(line.include.file)) {
        seen.add(line.include.file);
        const text = probe.text?.(line.include.file);
        const inner = ` (in ${path.basename(line.include.file)}, line `;
        if (text !== undefined) {
          for (const included of requirementLines(text, path.dirname(line.include.file))) {
            checkLines([included], here, `${where}${inner}${included.line})`);
          }
        }
      }
    }
  };
  checkLines(requirementLines(source, file ? path.dirname(file) : baseDir));
}

/** A packages file or list: the file exists and each line is a Debian package name. */
function checkPackages(values: RuntimeValues, { expect, probe, findings }: FieldCheckContext): void {
  const declared = values.packages!;
  let source: string | readonly string[] = declared;
  let file: string | undefined;
  if (typeof declared === 'string') {
    file = expect(declared, 'file', ['packages'], 'packages file');
    if (!file) return;
    const text = probe.text?.(file);
    if (text === undefined) return;
    source = text;
  }
  for (const item of packageLines(source)) {
    if (!item.problem) continue;
    findings.push({ severity: 'error', code: 'bad-value', at: file ? ['packages'] : ['packages', item.line - 1],
      elsewhere: file ? { file, line: item.line } : undefined, message: item.problem });
  }
}

function checkLocal(values: RuntimeValues, { expect, findings }: FieldCheckContext): void {
  const { python, requirements } = values.local!;
  if (python !== undefined && requirements !== undefined) {
    findings.push({ severity: 'error', code: 'conflict', message: '`local` takes either `python` or `requirements`, not both', at: ['local'], drop: ['local'], part: 'key' });
  } else if (python === undefined && requirements === undefined) {
    findings.push({ severity: 'error', code: 'missing-key', message: '`local` needs `python` (an interpreter with Airflow) or `requirements` (a file to build a virtualenv from)', at: ['local'], drop: ['local'], part: 'key' });
  } else if (python !== undefined && isPathLike(python)) {
    expect(python, 'file', ['local', 'python'], 'local.python', ['local']);
  } else if (requirements !== undefined) {
    expect(requirements, 'file', ['local', 'requirements'], 'local.requirements', ['local']);
  }
}

function checkPythonPath(values: RuntimeValues, { expect, outside, findings }: FieldCheckContext): void {
  values.pythonPath!.forEach((folder, index) => {
    const absolute = expect(folder, 'directory', ['pythonPath', index], 'pythonPath folder', ['pythonPath', index]);
    if (absolute && outside(absolute)) {
      findings.push({ severity: 'error', code: 'outside-workspace', at: ['pythonPath', index], drop: ['pythonPath', index],
        message: `pythonPath folder "${folder}" is outside the workspace (${absolute}): only the workspace's own folders go on sys.path; use mounts for anything else` });
    }
  });
}

/** Each mount one Docker can make, each target once, and nothing it opens on the host unless granted. */
function checkMounts(values: RuntimeValues, context: FieldCheckContext): void {
  const targets = new Map<string, number>();
  values.mounts!.forEach((mount, index) => {
    if (!mountIsPossible(mount, index, context) || !mountOpensNoHost(mount, index, context)) return;
    const earlier = targets.get(mount.target);
    if (earlier !== undefined) {
      context.findings.push({ severity: 'error', code: 'conflict', message: `mount target "${mount.target}" is already used by mounts[${earlier}]`, at: ['mounts', index, 'target'], drop: ['mounts', index] });
    } else {
      targets.set(mount.target, index);
    }
  });
}

/** A source that exists and Docker can name, and a target it can mount on; else a finding, and false. */
function mountIsPossible(mount: MountSpec, index: number, { baseDir, probe, findings }: FieldCheckContext): boolean {
  const source = path.resolve(baseDir, mount.source);
  const at: KeyPath = ['mounts', index, 'source'];
  const drop: KeyPath = ['mounts', index];
  if (mount.source.includes(':')) {
    findings.push({ severity: 'error', code: 'bad-value', at, drop, message: `mount source "${mount.source}" holds ":", which Docker reads as the end of a bind mount's source: rename the folder, or mount its parent` });
    return false;
  }
  if (!probe.kind(source)) {
    findings.push({ severity: 'error', code: 'missing-path', message: `mount source "${mount.source}" does not exist (looked at ${source})`, at, drop });
    return false;
  }
  const targetProblem = containerPathProblem(mount.target);
  if (targetProblem) {
    findings.push({ severity: 'error', code: 'bad-value', at: ['mounts', index, 'target'], drop, message: `mount target "${mount.target}" ${targetProblem}` });
    return false;
  }
  return true;
}

/**
 * The host-access rule for a mount's source, after symlinks: a socket, or a folder holding one, is a host service
 * (mount-socket); else a source outside the workspace is the host's files (mount-outside); else a writable folder
 * that is, holds or lies in .git, .vscode and the like is the host's code execution (mount-control). False when
 * one of them is asked for and not granted.
 */
function mountOpensNoHost(mount: MountSpec, index: number, context: FieldCheckContext): boolean {
  const { baseDir, probe, real, outside, power } = context;
  const source = path.resolve(baseDir, mount.source);
  const realSource = real(source);
  const at: KeyPath = ['mounts', index, 'source'];
  const drop: KeyPath = ['mounts', index];
  const socket = probe.kind(realSource) === 'socket' ? realSource
    : probe.kind(realSource) === 'directory' ? SERVICE_SOCKETS.map((s) => path.join(realSource, s)).find((s) => probe.kind(s) === 'socket') : undefined;
  if (socket) {
    return power('mount-socket', at, `mount source "${mount.source}" ${socket === realSource ? 'is a socket' : `holds the socket ${socket}`} (a host service: the Docker socket is full control of the host)`, { drop });
  }
  if (outside(source)) {
    const writable = mount.readOnly === false ? ', writable' : '';
    const alone = mount.allowOutsideWorkspace ? ' (allowOutsideWorkspace alone no longer allows it)' : '';
    return power('mount-outside', at, `mount source "${mount.source}" is outside the workspace (${realSource}${writable})${alone}`, { drop });
  }
  const control = mount.readOnly === false ? controlFileIn(realSource, context) : undefined;
  return !control || power('mount-control', at, `mount source "${mount.source}" is writable and ${control}: DAG code could write what git, the editor, direnv or CI run on the host`,
    { drop, hint: 'mount a subfolder that holds none of them, or set `readOnly: true`' });
}

/**
 * How a folder inside the workspace holds the host's code execution (CONTROL_NAMES): `is .git`, `lies in .vscode`,
 * `holds .git (sub/.git)`; undefined when it holds none of them. Symlinks are not followed: in the container they
 * point into the container.
 */
function controlFileIn(realSource: string, { workspace, probe }: FieldCheckContext): string | undefined {
  const parts = path.relative(workspace, realSource).split(path.sep).filter(Boolean);
  const inside = parts.findIndex((part) => CONTROL_NAMES.includes(part));
  if (inside >= 0) return inside === parts.length - 1 ? `is ${parts[inside]}` : `lies in ${parts.slice(0, inside + 1).join('/')}`;
  if (probe.kind(realSource) !== 'directory' || !probe.entries) return undefined;
  const queue = [realSource];
  let seen = 0;
  while (queue.length > 0) {
    const folder = queue.shift()!;
    for (const entry of probe.entries(folder) ?? []) {
      const full = path.join(folder, entry.name);
      if (CONTROL_NAMES.includes(entry.name)) return `holds ${entry.name} (${path.relative(realSource, full)})`;
      if (++seen > MAX_ENTRIES_SEARCHED) return `holds over ${MAX_ENTRIES_SEARCHED} files, too many to be sure it holds no .git, .vscode, .envrc or the like`;
      if (entry.directory) queue.push(full);
    }
  }
  return undefined;
}

/** dagsFolder as Docker would take it: a raw API error with no line otherwise. */
function checkDagsFolder(values: RuntimeValues, { findings }: FieldCheckContext): void {
  const problem = containerPathProblem(values.dagsFolder!);
  if (problem) findings.push({ severity: 'error', code: 'bad-value', at: ['dagsFolder'], drop: ['dagsFolder'], message: `dagsFolder "${values.dagsFolder}" ${problem}` });
}

/** Where a folder cannot be mounted in a container, and why; undefined where it can. */
export function containerPathProblem(target: string): string | undefined {
  if ([...target].some((c) => c < ' ' || c === '\x7f')) return 'holds a control character: a path in the runtime is printable text';
  if (target.includes(':')) return 'holds ":", which Docker reads as the end of a bind mount\'s target: choose a path without it';
  const normal = path.posix.normalize(target);
  if (normal === '/') return 'is the root of the runtime\'s file system: choose a folder, e.g. /opt/airflow/dags';
  const kernel = ['/proc', '/sys', '/dev'].find((owned) => normal === owned || normal.startsWith(`${owned}/`));
  if (kernel) return `is inside ${kernel}, which the kernel owns (Docker cannot mount there): choose a folder such as /opt/airflow/dags`;
  return undefined;
}

/** Only none, bridge and default are the runtime's to choose: any other network is a host power. */
function checkNetwork(values: RuntimeValues, { power }: FieldCheckContext): void {
  const network = values.network!;
  if (!networkIsHostPower(network)) return;
  const what = network.toLowerCase() === 'host' ? `\`network: ${network}\` puts the runtime on the host's network (its local services, the Docker API on 127.0.0.1)`
    : /^(container|ns|service):/i.test(network) ? `\`network: ${network}\` joins another network namespace (a container's may be the host's, and its services are reachable)`
      : `\`network: ${network}\` is not none, bridge or default: a named network reaches what else is on it (other projects' containers, a host-network proxy)`;
  power('network', ['network'], what);
}
