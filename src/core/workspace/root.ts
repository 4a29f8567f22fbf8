import { existsSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The workspace root for a terminal user: the nearest folder above `start` that holds `.git` or `.vscode`,
 * or `start` itself. Runtime files are layered from here down.
 */
export function findWorkspaceRoot(start: string): string {
  const from = path.resolve(start);
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, '.git')) || existsSync(path.join(dir, '.vscode'))) return dir;
    if (path.dirname(dir) === dir) return from;
  }
}
