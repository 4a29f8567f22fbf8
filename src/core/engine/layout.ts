import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { isInside } from '../runtime/checks';
import { schemaAt } from '../runtime/schema';
import { parseDuration } from '../runtime/units';
import type { RuntimeValues } from '../runtime/values';

/** Where the harness and its outputs live inside a container. */
export const CONTAINER_HARNESS = '/opt/airflow-runtime/harness';
export const CONTAINER_OUT = '/opt/airflow-runtime/out';
export const CONTAINER_CACHE = '/opt/airflow-runtime/cache';

/**
 * The harness package on the host: `src/harness` of the package root, found by walking up from this
 * module (the bundle in `dist/`, or the sources under tsx), in the repo and in the .vsix alike.
 */
export function hostHarnessDir(): string {
  if (process.env.AIRFLOW_RUNTIME_HARNESS_DIR) return process.env.AIRFLOW_RUNTIME_HARNESS_DIR;
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'src', 'harness');
    if (existsSync(path.join(candidate, 'airflow_runtime_harness', '__main__.py'))) return candidate;
  }
  return path.resolve(__dirname, '..', 'src', 'harness');
}

/**
 * The host folder that is the DAG root (mounted at the runtime's `dagsFolder`): the nearest folder named
 * `dags` that holds the DAG file, else the workspace root, else the DAG file's own folder.
 */
export function hostDagRoot(dagFile: string, workspaceRoot: string): string {
  for (let dir = path.dirname(dagFile); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (path.basename(dir) === 'dags') return dir;
    if (dir === workspaceRoot) break;
  }
  return isInside(workspaceRoot, dagFile) ? workspaceRoot : path.dirname(dagFile);
}

/** Where the DAG root is inside the runtime; the schema's default when no layer set it. */
export function dagsFolderOf(values: RuntimeValues): string {
  return values.dagsFolder ?? String(schemaAt(['dagsFolder'])?.default);
}

/** The host's deadline for a parse or a run, in milliseconds; the schema's default when no layer set it. */
export function deadlineOf(values: RuntimeValues, work: 'parse' | 'run'): number {
  return parseDuration(values.timeouts?.[work]) ?? parseDuration(schemaAt(['timeouts', work])?.default)!;
}

/** Two-way mapping between host paths and runtime paths, longest prefix first. */
export class PathMap {
  private readonly pairs: { host: string; runtime: string }[];

  constructor(pairs: { host: string; runtime: string }[]) {
    this.pairs = [...pairs].sort((a, b) => b.runtime.length - a.runtime.length);
  }

  toHost(runtimePath: string): string {
    for (const { host, runtime } of this.pairs) {
      if (runtimePath === runtime) return host;
      if (runtimePath.startsWith(`${runtime}/`)) return path.join(host, runtimePath.slice(runtime.length + 1));
    }
    return runtimePath;
  }

  toRuntime(hostPath: string): string {
    const byHost = [...this.pairs].sort((a, b) => b.host.length - a.host.length);
    for (const { host, runtime } of byHost) {
      if (isInside(host, hostPath)) return path.posix.join(runtime, path.relative(host, hostPath).split(path.sep).join('/'));
    }
    return hostPath;
  }

  /** Every runtime path inside free text (tracebacks, log lines) rewritten to the host's. */
  rewriteText(text: string): string {
    let out = text;
    for (const { host, runtime } of this.pairs) {
      if (runtime === host) continue;
      out = out.split(`${runtime}/`).join(`${host}/`);
    }
    return out;
  }
}
