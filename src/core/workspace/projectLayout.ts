import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { isInside } from '../runtime/checks';

/**
 * How a project is laid out, which decides what its DAG files see (docs/contracts.md, "What a DAG file sees"):
 * - `astro`: an Astro project (`.astro/`, `dags/`, `include/`, `plugins/`). Its images put the project
 *   root on PYTHONPATH, so `from include.helpers import x` works.
 * - `airflow`: the official image's layout (`dags/`, `plugins/`, `config/` beside each other in
 *   AIRFLOW_HOME). Airflow puts the DAGs folder, the plugins folder and `config/` on sys.path.
 * - `folder`: DAG files with no project around them; the DAG root is all there is.
 */
export type LayoutKind = 'astro' | 'airflow' | 'folder';

export interface ProjectFolder {
  /** The folder on the host. */
  host: string;
  /** Its path relative to the project root (`plugins`, `include`, `lib/common`). */
  relative: string;
  /** On sys.path itself (plugins/, config/, a runtime file's pythonPath), or only reachable through the root. */
  onPath: boolean;
  /** Where it goes in a container when it is outside the project root (a pythonPath folder elsewhere in the workspace). */
  runtimePath?: string;
}

export interface ProjectLayout {
  kind: LayoutKind;
  /** The DAGs folder on the host: mounted at the runtime's `dagsFolder`. */
  dagRoot: string;
  /** The folder that holds `dags/` (astro, airflow); the DAG root itself for a plain folder. */
  projectRoot: string;
  /** The project root is on sys.path (Astro's images). */
  rootOnPath: boolean;
  /** Folders beside the DAG root that the runtime gets (read-only), where they sit beside it in the project. */
  folders: ProjectFolder[];
  /** The plugins folder on the host, when the project has one (Airflow's `[core] plugins_folder`). */
  pluginsFolder?: string;
}

/**
 * The DAG root of a DAG file: the nearest folder named `dags` that holds it (below the workspace root), else
 * the workspace root, else the DAG file's own folder.
 */
export function hostDagRoot(dagFile: string, workspaceRoot: string): string {
  for (let dir = path.dirname(dagFile); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (path.basename(dir) === 'dags') return dir;
    if (dir === workspaceRoot) break;
  }
  return isInside(workspaceRoot, dagFile) ? workspaceRoot : path.dirname(dagFile);
}

function isFolder(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** An Astro project says so with `.astro/`, or with a Dockerfile built on Astro Runtime. */
function isAstroProject(root: string): boolean {
  if (isFolder(path.join(root, '.astro'))) return true;
  const dockerfile = path.join(root, 'Dockerfile');
  if (!existsSync(dockerfile)) return false;
  try {
    return /^\s*FROM\s+\S*astro-runtime/im.test(readFileSync(dockerfile, 'utf8').slice(0, 16_384));
  } catch {
    return false;
  }
}

/** The folders each layout brings, beside `dags/`, and whether each goes on sys.path on its own. */
const LAYOUT_FOLDERS: Record<Exclude<LayoutKind, 'folder'>, { name: string; onPath: boolean }[]> = {
  astro: [{ name: 'include', onPath: false }, { name: 'plugins', onPath: true }],
  airflow: [{ name: 'plugins', onPath: true }, { name: 'config', onPath: true }],
};

/**
 * The layout around a DAG file. `pythonPath` is the runtime file's list of extra folders (absolute host
 * paths inside the workspace): each is on sys.path and placed beside the DAG root as in the workspace.
 */
export function projectLayout(dagFile: string, workspaceRoot: string, pythonPath: readonly string[] = []): ProjectLayout {
  const dagRoot = hostDagRoot(dagFile, workspaceRoot);
  const parent = path.dirname(dagRoot);
  const isProject = path.basename(dagRoot) === 'dags' && isInside(workspaceRoot, parent);
  const kind: LayoutKind = !isProject ? 'folder' : isAstroProject(parent) ? 'astro' : 'airflow';
  const projectRoot = isProject ? parent : dagRoot;
  const folders: ProjectFolder[] = [];
  if (kind !== 'folder') {
    for (const { name, onPath } of LAYOUT_FOLDERS[kind]) {
      const host = path.join(projectRoot, name);
      if (isFolder(host)) folders.push({ host, relative: name, onPath });
    }
  }
  for (const folder of pythonPath) {
    const known = folders.find((f) => f.host === folder);
    if (known) known.onPath = true;
    else if (isInside(projectRoot, folder)) folders.push({ host: folder, relative: path.relative(projectRoot, folder).split(path.sep).join('/'), onPath: true });
    else folders.push({ host: folder, relative: path.basename(folder), onPath: true, runtimePath: `/opt/airflow-runtime/pythonpath/${folders.length}-${path.basename(folder)}` });
  }
  const plugins = folders.find((f) => f.relative === 'plugins' && kind !== 'folder');
  return { kind, dagRoot, projectRoot, rootOnPath: kind === 'astro', folders, pluginsFolder: plugins?.host };
}

/** Where a project folder is in the runtime: beside the DAGs folder as it is beside the DAG root on the host. */
export function runtimePathOf(layout: ProjectLayout, folder: ProjectFolder, dagsFolder: string): string {
  if (folder.runtimePath) return folder.runtimePath;
  if (isInside(layout.dagRoot, folder.host)) {
    return path.posix.join(dagsFolder, path.relative(layout.dagRoot, folder.host).split(path.sep).join('/'));
  }
  return path.posix.join(layoutRootIn(layout, dagsFolder), folder.relative);
}

/** The project root in the runtime: the DAGs folder's parent for a project, the DAGs folder for a plain folder. */
export function layoutRootIn(layout: ProjectLayout, dagsFolder: string): string {
  return layout.kind === 'folder' ? dagsFolder : path.posix.dirname(dagsFolder);
}
