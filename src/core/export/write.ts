import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import * as path from 'node:path';

/** Why files could not be written, for a person; the files that were there are as they were. */
export class WriteError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
  }
}

const REASONS: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'a folder stands where a file would be written',
};

/**
 * Writes each file beside its final name and renames it into place only when all of them are written whole: a full
 * disk or a killed process never leaves a cut manifest (which the policy would refuse, stopping every DAG) or a
 * manifest from one export beside bundles of another.
 */
export function writeFilesAtomically(folder: string, files: Readonly<Record<string, string>>): void {
  const temporary = new Map<string, string>();
  const fail = (error: unknown, what: string): never => {
    for (const temp of temporary.values()) rmSync(temp, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    throw new WriteError(`cannot write ${what}: ${REASONS[code ?? ''] ?? (error as Error).message}`, code);
  };
  try {
    mkdirSync(folder, { recursive: true });
  } catch (error) {
    fail(error, folder);
  }
  for (const [name, text] of Object.entries(files)) {
    const target = path.join(folder, name);
    const temp = path.join(folder, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      const fd = openSync(temp, 'wx', 0o644);
      temporary.set(target, temp);
      try {
        writeSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      fail(error, target);
    }
  }
  for (const [target, temp] of temporary) {
    try {
      renameSync(temp, target);
    } catch (error) {
      fail(error, target);
    }
  }
}
