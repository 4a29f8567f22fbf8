import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { isInside } from '../runtime/checks';
import type { EffectiveRuntime } from '../runtime/resolve';
import { schemaAt } from '../runtime/schema';
import type { RuntimeValues } from '../runtime/values';
import { hostDagRoot, layoutRootIn, type ProjectFolder, projectLayout, runtimePathOf } from '../workspace/projectLayout';
import { runtimeEnvironment } from '../engine/environment';

export { hostDagRoot };

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

/** Where the DAG root is inside the runtime; the schema's default when no layer set it. */
export function dagsFolderOf(values: RuntimeValues): string {
  return values.dagsFolder ?? String(schemaAt(['dagsFolder'])?.default);
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

/** A host folder or file and where the runtime sees it. */
export interface Placement {
  host: string;
  target: string;
  readOnly: boolean;
}

/** What a harness process is given, in a container or on this machine: the same layout either way. */
export interface HarnessSetup {
  /** The DAG root, the harness and the project's folders, where the runtime sees them (runtime mounts not included). */
  placements: Placement[];
  /** The runtime's environment with ours on top; PYTHONPATH merged, never dropped. */
  env: Record<string, string>;
  /** The harness's working directory: the project root in the runtime, as the images' WORKDIR is. */
  workingDir: string;
  dagsFolder: string;
}

/**
 * The runtime's view of a DAG file's project (docs/contracts.md, "What a DAG file sees"), for `docker` (paths in the
 * container, project folders placed beside `dagsFolder`) or `local` (host paths, nothing moved).
 * sys.path gets, in order: the runtime file's own PYTHONPATH, the project root for Astro, the plugins and
 * config folders and the runtime file's `pythonPath`, then the harness.
 */
export function harnessSetup(runtime: EffectiveRuntime, dagFile: string, where: 'docker' | 'local', extra: Record<string, string>): HarnessSetup {
  const { values, workspaceRoot } = runtime;
  const layout = projectLayout(dagFile, workspaceRoot, values.pythonPath);
  const inContainer = where === 'docker';
  const dagsFolder = inContainer ? dagsFolderOf(values) : layout.dagRoot;
  const harness = inContainer ? CONTAINER_HARNESS : hostHarnessDir();
  const placements: Placement[] = [
    { host: layout.dagRoot, target: dagsFolder, readOnly: true },
    { host: hostHarnessDir(), target: harness, readOnly: true },
  ];
  const seenAt = (folder: ProjectFolder) => (inContainer ? runtimePathOf(layout, folder, dagsFolder) : folder.host);
  for (const folder of layout.folders) {
    if (!isInside(layout.dagRoot, folder.host)) placements.push({ host: folder.host, target: seenAt(folder), readOnly: true });
  }
  const root = inContainer ? layoutRootIn(layout, dagsFolder) : layout.projectRoot;
  const env = runtimeEnvironment(values);
  const separator = inContainer ? ':' : path.delimiter;
  const sysPath = [
    ...(env.PYTHONPATH ? env.PYTHONPATH.split(separator).filter(Boolean) : []),
    ...(layout.rootOnPath ? [root] : []),
    ...layout.folders.filter((f) => f.onPath).map(seenAt),
    harness,
  ];
  const plugins = layout.folders.find((f) => f.host === layout.pluginsFolder);
  return {
    placements,
    dagsFolder,
    workingDir: root,
    env: {
      ...env,
      ...(plugins ? { AIRFLOW__CORE__PLUGINS_FOLDER: seenAt(plugins) } : {}),
      ...extra,
      // failures come as events ({code, message}) that the engine tells once, not also as text on stderr
      AIRFLOW_RUNTIME_EVENTS: '1',
      // stdin is a pipe we never write to: when it closes, we are gone, and the harness ends what it started
      AIRFLOW_RUNTIME_OWNER_STDIN: '1',
      PYTHONPATH: [...new Set(sysPath)].join(separator),
      // helper modules outside the DAGs folder are the user's code too: import errors and task lines point into them
      AIRFLOW_RUNTIME_USER_PATHS: [...new Set([...(layout.rootOnPath ? [root] : []), ...layout.folders.map(seenAt)])].join(separator),
    },
  };
}

/**
 * The network of a parse: none, whatever the runtime file says, unless this person allowed host access (a DAG
 * file should not need the network to import, and code that phones home at import is what a parse must not let
 * out). Task runs get the runtime's `network` (default bridge).
 */
export function parseNetworkOf(runtime: EffectiveRuntime): string {
  return runtime.hostAccess.allowed ? runtime.values.network ?? 'none' : 'none';
}
