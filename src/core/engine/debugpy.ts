import { type AddressInfo, createServer } from 'node:net';
import * as path from 'node:path';
import { cacheDir } from './cache';
import type { HarnessSetup } from '../harness/layout';
import type { WorkOptions } from './types';
import { ensureWheel } from './wheels';

/** debugpy's pure-Python wheel, pinned and checked: it runs inside the user's runtime, next to their DAG code (Python 3.10+). */
export const DEBUGPY = {
  version: '1.8.22',
  wheel: 'debugpy-1.8.22-py2.py3-none-any.whl',
  sha256: 'a9e9d3550e15ca479c59333e90845029190531f0cacfedab3b815a57bd913947',
};

/** Where debugpy is inside a container (mounted read-only; copied for remote engines). */
export const CONTAINER_DEBUGPY = '/opt/airflow-runtime/debugpy';

/** The port debugpy listens on inside a container (published on 127.0.0.1 only). */
export const CONTAINER_DEBUG_PORT = 5678;

/**
 * A folder with the `debugpy` package, on this machine: downloaded from PyPI on first use, checked against its
 * pinned hash, unpacked once into our cache (wheels.ts). The user's image and venv are never changed: the folder is
 * put on the runtime's path for a debug run only.
 */
export function ensureDebugpy(options: WorkOptions = {}): Promise<string> {
  return ensureWheel({
    name: 'debugpy', version: DEBUGPY.version, marker: path.join('debugpy', '__init__.py'),
    files: { any: { file: DEBUGPY.wheel, sha256: DEBUGPY.sha256, pipPlatform: 'any' } },
  }, cacheDir(`debugpy-${DEBUGPY.version}`), options);
}

/** debugpy's server-side path map (pydevd's PATHS_FROM_ECLIPSE_TO_PYTHON): host path → the runtime's path. */
export function serverPathMap(placements: readonly { host: string; target: string }[]): string {
  return JSON.stringify(placements.filter((p) => p.host !== p.target).map((p) => [p.host, p.target]));
}

/** Where debugpy listens in the runtime: all interfaces of a container (published on 127.0.0.1), else loopback. */
export interface DebugListen {
  host: string;
  port: number;
}

/**
 * The harness's setup for a debug run or parse, the same rule for both engines: debugpy on the path (read-only,
 * after everything of the runtime's), where to listen, and the map from host paths to the runtime's.
 */
export function debuggableSetup(setup: HarnessSetup, debugpyFolder: string, where: 'docker' | 'local', listen: DebugListen, mounts: readonly { host: string; target: string }[] = []): HarnessSetup {
  const onPath = where === 'docker' ? CONTAINER_DEBUGPY : debugpyFolder;
  const separator = where === 'docker' ? ':' : path.delimiter;
  return {
    ...setup,
    placements: [...setup.placements, { host: debugpyFolder, target: onPath, readOnly: true }],
    env: {
      ...setup.env,
      PYTHONPATH: [setup.env.PYTHONPATH, onPath].filter(Boolean).join(separator),
      AIRFLOW_RUNTIME_DEBUG_PORT: String(listen.port),
      AIRFLOW_RUNTIME_DEBUG_HOST: listen.host,
      ...(where === 'docker' ? { PATHS_FROM_ECLIPSE_TO_PYTHON: serverPathMap([...setup.placements, ...mounts]) } : {}),
    },
  };
}

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released for the runtime to take). */
export function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
