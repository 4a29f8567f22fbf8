import { closeSync, openSync, readSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ProblemCode, Severity } from '../problems';
import type { KeyPath, RuntimeValues } from './values';

/** What the checks need to know of the disk; tests give their own. */
export interface FileProbe {
  /** `other`: a device, socket or pipe (reading /dev/zero never ends). */
  kind(absolutePath: string): 'file' | 'directory' | 'other' | undefined;
  /** Why a file cannot be a text file of NAME=value lines (binary, too big); undefined when it can. */
  notText?(absolutePath: string): string | undefined;
}

/** An env file is a few lines; more than this is not one. */
const MAX_ENV_FILE_BYTES = 1024 * 1024;

export const nodeFileProbe: FileProbe = {
  kind(absolutePath) {
    try {
      const stats = statSync(absolutePath);
      return stats.isDirectory() ? 'directory' : stats.isFile() ? 'file' : 'other';
    } catch {
      return undefined;
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

/** Checks the paths a runtime file names, relative to its folder: they exist, and mounts stay in the workspace. */
export function checkPaths(values: RuntimeValues, baseDir: string, workspaceRoot: string, probe: FileProbe): PathFinding[] {
  const findings: PathFinding[] = [];
  const expect = (value: string, kind: 'file' | 'directory', at: KeyPath, what: string, drop: KeyPath = at): string | undefined => {
    const absolute = path.resolve(baseDir, value);
    const found = probe.kind(absolute);
    if (found === kind) return absolute;
    const names = { file: 'file', directory: 'folder', other: 'device, socket or pipe' };
    const problem = found ? `is a ${names[found]}, not a ${names[kind]}` : 'does not exist';
    findings.push({ severity: 'error', code: 'missing-path', message: `${what} "${value}" ${problem} (looked at ${absolute})`, at, drop });
    return undefined;
  };

  if (values.envFile !== undefined) {
    const envFile = expect(values.envFile, 'file', ['envFile'], 'envFile');
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
    if (absolute && !isInside(workspaceRoot, absolute)) {
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
    if (!mount.allowOutsideWorkspace && !isInside(workspaceRoot, source)) {
      findings.push({
        severity: 'warning', code: 'outside-workspace', at: ['mounts', index, 'source'],
        message: `mount source "${mount.source}" is outside the workspace (${source}); set allowOutsideWorkspace: true if that is intended`,
      });
    }
    const earlier = targets.get(mount.target);
    if (earlier !== undefined) {
      findings.push({ severity: 'error', code: 'conflict', message: `mount target "${mount.target}" is already used by mounts[${earlier}]`, at: ['mounts', index, 'target'], drop: ['mounts', index] });
    } else {
      targets.set(mount.target, index);
    }
  });
  return findings;
}
