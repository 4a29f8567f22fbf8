import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ProblemCode, Severity } from '../problems';
import type { KeyPath, RuntimeValues } from './values';

/** What the checks need to know of the disk; tests give their own. */
export interface FileProbe {
  /** `other`: a device or pipe (reading /dev/zero never ends); `socket`: a way into a host service. */
  kind(absolutePath: string): 'file' | 'directory' | 'socket' | 'other' | undefined;
  /** Where a path really is, symlinks resolved (the path itself where it does not exist). */
  realpath?(absolutePath: string): string;
  /** Why a file cannot be a text file of NAME=value lines (binary, too big); undefined when it can. */
  notText?(absolutePath: string): string | undefined;
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
}

/** A `local.python` that names a command (`python3.11`) rather than a path is looked up on PATH later, not here. */
export function isPathLike(value: string): boolean {
  return value.includes('/') || value.includes('\\') || value.startsWith('.');
}

export function isInside(folder: string, candidate: string): boolean {
  const relative = path.relative(folder, candidate);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * Whether this person (never the workspace) lets runtime files open the host: mounts and files outside the
 * workspace, sockets, the host's network. Granted by a CLI flag, an environment variable for CI, or a VS Code
 * user setting; `by` says which, for the warning that reports the grant.
 */
export interface HostAccess {
  allowed: boolean;
  by?: string;
}

export const NO_HOST_ACCESS: HostAccess = { allowed: false };

/** How a person allows it: said in every refusal. */
export const HOW_TO_ALLOW_HOST_ACCESS = 'if you trust it, allow host access: --allow-host-access (CLI), AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS=1 (CI), or the user setting airflowRuntime.allowHostAccess (a workspace cannot set it)';

/** Host services a mounted folder would expose through the sockets in it. */
const SERVICE_SOCKETS = ['docker.sock', 'podman/podman.sock', 'containerd/containerd.sock', 'crio/crio.sock'];

/**
 * Checks the paths a runtime file names, relative to its folder: they exist, they are what they must be, and
 * nothing opens the host (outside the workspace after symlinks, sockets, the host network) unless `hostAccess`.
 */
export function checkPaths(values: RuntimeValues, baseDir: string, workspaceRoot: string, probe: FileProbe, hostAccess: HostAccess = NO_HOST_ACCESS): PathFinding[] {
  const findings: PathFinding[] = [];
  const real = (p: string) => probe.realpath?.(p) ?? p;
  const workspace = real(workspaceRoot);
  /** A power over the host: refused (and left out) unless this person allowed it; the grant is reported. */
  const power = (at: KeyPath, what: string, drop: KeyPath = at) => {
    if (hostAccess.allowed) {
      findings.push({ severity: 'warning', code: 'host-access', at, message: `${what}: allowed by ${hostAccess.by ?? 'host access'}` });
    } else {
      findings.push({ severity: 'error', code: 'host-access', at, drop, message: `${what}: a runtime file cannot open the host by itself; ${HOW_TO_ALLOW_HOST_ACCESS}` });
    }
  };
  const outside = (absolute: string) => !isInside(workspace, real(absolute));
  const expect = (value: string, kind: 'file' | 'directory', at: KeyPath, what: string, drop: KeyPath = at): string | undefined => {
    const absolute = path.resolve(baseDir, value);
    const found = probe.kind(absolute);
    if (found === kind) return absolute;
    const names = { file: 'file', directory: 'folder', socket: 'socket', other: 'device or pipe' };
    const problem = found ? `is a ${names[found]}, not a ${names[kind]}` : 'does not exist';
    findings.push({ severity: 'error', code: 'missing-path', message: `${what} "${value}" ${problem} (looked at ${absolute})`, at, drop });
    return undefined;
  };

  if (values.envFile !== undefined) {
    let envFile = expect(values.envFile, 'file', ['envFile'], 'envFile');
    if (envFile && outside(envFile)) {
      power(['envFile'], `envFile "${values.envFile}" is outside the workspace (${real(envFile)}): its values would reach the DAG code`);
      if (!hostAccess.allowed) envFile = undefined;
    }
    const why = envFile && probe.notText?.(envFile);
    // never the content: an env file holds secrets, and a wrong one (/proc/self/environ) someone else's
    if (why) findings.push({ severity: 'error', code: 'bad-value', message: `envFile "${values.envFile}" ${why}: an env file is text, one NAME=value per line`, at: ['envFile'], drop: ['envFile'] });
  }

  if (values.build) {
    let context = expect(values.build.context, 'directory', ['build', 'context'], 'build context', ['build']);
    if (context && (path.parse(context).root === context || context === os.homedir())) {
      // everything under it is sent to Docker: walking it takes minutes and reads the user's private files
      findings.push({ severity: 'error', code: 'bad-value', at: ['build', 'context'], drop: ['build'],
        message: `build context "${values.build.context}" is ${context === os.homedir() ? 'your home folder' : 'the root of the disk'} (${context}): point it at the folder that holds the Dockerfile and what it copies` });
      context = undefined;
    }
    if (context && outside(context)) {
      power(['build', 'context'], `build context "${values.build.context}" is outside the workspace (${real(context)}): all of it would be sent to Docker`, ['build']);
      if (!hostAccess.allowed) context = undefined;
    }
    if (context) {
      const dockerfile = values.build.dockerfile ?? 'Dockerfile';
      const absolute = path.resolve(context, dockerfile);
      if (probe.kind(absolute) !== 'file') {
        const at = values.build.dockerfile !== undefined ? ['build', 'dockerfile'] : ['build'];
        findings.push({ severity: 'error', code: 'missing-path', message: `Dockerfile "${dockerfile}" does not exist in the build context (looked at ${absolute})`, at, drop: ['build'], part: at.length === 1 ? 'key' : 'value' });
      }
    }
  }

  if (values.local) {
    const { python, requirements } = values.local;
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

  values.pythonPath?.forEach((folder, index) => {
    const absolute = expect(folder, 'directory', ['pythonPath', index], 'pythonPath folder', ['pythonPath', index]);
    if (absolute && outside(absolute)) {
      findings.push({ severity: 'error', code: 'outside-workspace', at: ['pythonPath', index], drop: ['pythonPath', index],
        message: `pythonPath folder "${folder}" is outside the workspace (${absolute}): only the workspace's own folders go on sys.path; use mounts for anything else` });
    }
  });

  const targets = new Map<string, number>();
  values.mounts?.forEach((mount, index) => {
    const source = path.resolve(baseDir, mount.source);
    if (!probe.kind(source)) {
      findings.push({ severity: 'error', code: 'missing-path', message: `mount source "${mount.source}" does not exist (looked at ${source})`, at: ['mounts', index, 'source'], drop: ['mounts', index] });
      return;
    }
    const at: KeyPath = ['mounts', index, 'source'];
    const realSource = real(source);
    const socket = probe.kind(realSource) === 'socket' ? realSource
      : probe.kind(realSource) === 'directory' ? SERVICE_SOCKETS.map((s) => path.join(realSource, s)).find((s) => probe.kind(s) === 'socket') : undefined;
    if (socket) {
      power(at, `mount source "${mount.source}" ${socket === realSource ? 'is a socket' : `holds the socket ${socket}`} (a host service: the Docker socket is full control of the host)`, ['mounts', index]);
      if (!hostAccess.allowed) return;
    } else if (outside(source)) {
      const writable = mount.readOnly === false ? ', writable' : '';
      const alone = mount.allowOutsideWorkspace ? ' (allowOutsideWorkspace alone no longer allows it)' : '';
      power(at, `mount source "${mount.source}" is outside the workspace (${realSource}${writable})${alone}`, ['mounts', index]);
      if (!hostAccess.allowed) return;
    }
    const earlier = targets.get(mount.target);
    if (earlier !== undefined) {
      findings.push({ severity: 'error', code: 'conflict', message: `mount target "${mount.target}" is already used by mounts[${earlier}]`, at: ['mounts', index, 'target'], drop: ['mounts', index] });
    } else {
      targets.set(mount.target, index);
    }
  });
  if (values.network === 'host') power(['network'], '`network: host` puts the runtime on the host\'s network (its local services, the Docker API on 127.0.0.1)');
  return findings;
}
