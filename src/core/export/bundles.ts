import * as path from 'node:path';
import { byCodePoint } from './runtimeId';

/** A DAG file by its path relative to the DAGs folder (POSIX) and its runtime id. */
export interface BundleFile {
  path: string;
  runtime: string;
}

/** A folder (relative to the DAGs folder, `.` for itself) every DAG file of which, at any depth, has one runtime. */
export interface Bundle {
  runtime: string;
  path: string;
}

/**
 * A folder that holds DAG files directly while the files in it and below it have more than one runtime. Airflow
 * splits parsing by folder only (a LocalDagBundle, a `--subdir`), and takes everything below a folder with it, so
 * its own files cannot be given to one processor without the others.
 */
export interface MixedFolder {
  folder: string;
  /** The folder's own DAG files. */
  direct: BundleFile[];
  /** The DAG files in its subfolders. */
  below: BundleFile[];
}

export interface BundlePlan {
  /** Sorted by runtime, then path. */
  bundles: Bundle[];
  /** Sorted by folder. Empty when every DAG file is in exactly one bundle. */
  mixed: MixedFolder[];
}

/**
 * The parse bundles: each folder whose DAG files (at any depth) share one runtime, as high up as possible, so
 * that no bundle holds another and every DAG file is in exactly one.
 */
export function planBundles(files: readonly BundleFile[]): BundlePlan {
  const runtimesUnder = new Map<string, Set<string>>();
  const direct = new Map<string, BundleFile[]>();
  for (const file of files) {
    const own = path.posix.dirname(file.path);
    direct.set(own, [...(direct.get(own) ?? []), file]);
    for (let folder = own; ; folder = path.posix.dirname(folder)) {
      const set = runtimesUnder.get(folder) ?? new Set<string>();
      set.add(file.runtime);
      runtimesUnder.set(folder, set);
      if (folder === '.') break;
    }
  }
  const bundles: Bundle[] = [];
  for (const [folder, runtimes] of runtimesUnder) {
    if (runtimes.size !== 1) continue;
    if (folder !== '.' && runtimesUnder.get(path.posix.dirname(folder))!.size === 1) continue;
    bundles.push({ runtime: [...runtimes][0], path: folder });
  }
  const mixed: MixedFolder[] = [];
  for (const [folder, own] of direct) {
    if (runtimesUnder.get(folder)!.size === 1) continue;
    const inside = (file: BundleFile) => folder === '.' || file.path.startsWith(`${folder}/`);
    const below = files.filter((f) => inside(f) && path.posix.dirname(f.path) !== folder);
    mixed.push({ folder, direct: sortedFiles(own), below: sortedFiles(below) });
  }
  bundles.sort((a, b) => byCodePoint(a.runtime, b.runtime) || byCodePoint(a.path, b.path));
  mixed.sort((a, b) => byCodePoint(a.folder, b.folder));
  return { bundles, mixed };
}

/** `airflow-runtime-<id>-<path with / as _>`; the DAGs folder itself is `root`. */
export function bundleName(bundle: Bundle): string {
  return `airflow-runtime-${bundle.runtime}-${bundle.path === '.' ? 'root' : bundle.path.split('/').join('_')}`;
}

function sortedFiles(files: BundleFile[]): BundleFile[] {
  return [...files].sort((a, b) => byCodePoint(a.path, b.path));
}
