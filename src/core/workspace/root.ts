import { existsSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Folders that say "a project starts here" by themselves: version control and editor settings, an Astro project. */
const PROJECT_MARKERS = ['.git', '.vscode', '.astro'];
/** A folder beside `dags/` that makes its parent an Airflow project (the official image's and Astro's layout). */
const LAYOUT_SIBLINGS = ['include', 'plugins'];
const FOLDER_RUNTIME_FILE = 'airflow-runtime.yaml';

const HOME = os.homedir();

/** A runtime file this user owns: one another user left in /tmp does not make a project of whatever is below it. */
function ownRuntimeFile(file: string): boolean {
  try {
    const stat = statSync(file);
    return stat.isFile() && (process.getuid === undefined || stat.uid === process.getuid());
  } catch {
    return false;
  }
}

function isFolder(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The project a path belongs to, found from the files and never from the current folder, so that every folder
 * inside a project gives the same answer (a clone, a zip download, a CI artifact): the nearest folder at or above
 * `start` that holds `.git`, `.vscode` or `.astro/` (but for a `dags/` folder of such a layout: a DAGs folder that is
 * a repository of its own belongs to the project around it), or has the Airflow layout (`dags/` with `include/` or
 * `plugins/` beside it); else the topmost folder on the way up (not above HOME) that holds an `airflow-runtime.yaml` of this user; else the folder
 * of `start` itself. Runtime files are layered from here down, and "inside the workspace" is measured from here.
 */
export function findProjectRoot(start: string): string {
  const from = isFolder(start) ? path.resolve(start) : path.dirname(path.resolve(start));
  let topmostRuntimeFile: string | undefined;
  for (let dir = from; ; dir = path.dirname(dir)) {
    // a DAGs folder that is a repository of its own (git-sync, a submodule) is still the project's DAGs folder
    const dagsOfProject = path.basename(dir) === 'dags' && [...LAYOUT_SIBLINGS, '.astro'].some((sibling) => isFolder(path.join(path.dirname(dir), sibling)));
    if (!dagsOfProject && PROJECT_MARKERS.some((marker) => existsSync(path.join(dir, marker)))) return dir;
    if (isFolder(path.join(dir, 'dags')) && LAYOUT_SIBLINGS.some((sibling) => isFolder(path.join(dir, sibling)))) return dir;
    if (ownRuntimeFile(path.join(dir, FOLDER_RUNTIME_FILE))) topmostRuntimeFile = dir;
    // never above HOME: a stray ~/airflow-runtime.yaml is not a project around everything under it
    if (path.dirname(dir) === dir || dir === HOME) return topmostRuntimeFile ?? from;
  }
}
