import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import { ToolError } from './toolError';

/** Where a path really is, symlinks resolved as far as it exists (a path that does not exist yet keeps its tail). */
function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    const parent = path.dirname(p);
    return parent === p ? p : path.join(real(parent), path.basename(p));
  }
}

export function isInsideProject(root: string, absolute: string): boolean {
  const relative = path.relative(real(root), real(absolute));
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * A path an assistant named, made absolute against the project root and refused when it leads outside the project
 * (after symlinks): an assistant gets the project's files and nothing else of the machine.
 */
export function projectPath(root: string, given: string): string {
  if (typeof given !== 'string' || given.trim() === '' || given.includes('\0')) {
    throw new ToolError('a path is needed', 'name a file relative to the project root, as list_dag_files shows them');
  }
  const absolute = path.resolve(root, given);
  if (!isInsideProject(root, absolute)) {
    throw new ToolError(`${given} is outside the project (${root}): refused`,
      'name a path inside the project, relative to its root, as list_dag_files shows them; this server reads and runs nothing outside it');
  }
  return absolute;
}

/** A project file as tools show it: relative to the project root. */
export function shownPath(root: string, file: string): string {
  const relative = path.relative(root, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}
