import { readdirSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The one list of folders that hold dependencies or tools' caches, never a project's own code: no walk of ours
 * goes into them (DAG files, runtime files, a project's packages), and no copy into a runtime takes them. The
 * editor's `airflowRuntime.dagFiles.exclude` default names the same folders (a unit test holds them together).
 */
export const DEPENDENCY_FOLDERS: ReadonlySet<string> = new Set([
  'node_modules', '__pycache__', 'venv', '.venv', 'site-packages', '.tox', '.nox', '.mypy_cache', '.pytest_cache', '.ruff_cache',
]);

/** Version control's own folders: never copied into a runtime (hidden folders are never walked anyway). */
export const VCS_FOLDERS: ReadonlySet<string> = new Set(['.git', '.hg', '.svn']);

/** A folder no walk of a project goes into: hidden (`.git`, `.astro`...) or a dependency folder. */
export function isUnwalkedFolder(name: string): boolean {
  return name.startsWith('.') || DEPENDENCY_FOLDERS.has(name);
}

/**
 * The one walk of a folder tree: into each folder `walksInto` allows (else `onSkippedFolder`), calling `onFile` for
 * each regular file. A folder that cannot be read is passed over.
 */
export function walkFiles(dir: string, walksInto: (folder: string, name: string) => boolean, onFile: (file: string, name: string) => void, onSkippedFolder?: (folder: string, name: string) => void): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (walksInto(full, entry.name)) walkFiles(full, walksInto, onFile, onSkippedFolder);
      else onSkippedFolder?.(full, entry.name);
    } else if (entry.isFile()) {
      onFile(full, entry.name);
    }
  }
}
