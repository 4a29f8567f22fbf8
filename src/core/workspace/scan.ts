import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { runtimeFileScope } from '../runtime/names';

/** Folders never worth walking: tools' caches, virtualenvs, dependencies. */
const SKIPPED_FOLDERS = new Set(['node_modules', '.git', '.hg', '.svn', '__pycache__', '.venv', 'venv', '.tox', '.mypy_cache', '.pytest_cache', 'logs']);

/** Every runtime file below `root`, sorted, skipping hidden folders and dependency caches. */
export function findRuntimeFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_FOLDERS.has(entry.name) && !entry.name.startsWith('.')) walk(full);
      } else if (entry.isFile() && runtimeFileScope(entry.name)) {
        found.push(full);
      }
    }
  };
  walk(path.resolve(root));
  return found.sort();
}
