import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import * as path from 'node:path';
import { cacheDir } from './cache';
import { EngineError } from './errors';
import type { HarnessSetup } from './layout';
import { hostEnvironment } from './local/hostEnvironment';
import { runProcess } from './processTree';
import type { WorkOptions } from './types';

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

let fetching: Promise<string> | undefined;

/**
 * A folder with the `debugpy` package, on this machine: downloaded from PyPI on first use (pip, with the
 * installer's environment allowlist), checked against its pinned hash, unpacked once into our cache. The
 * user's image and venv are never changed: the folder is put on the runtime's path for a debug run only.
 */
export function ensureDebugpy(options: WorkOptions = {}): Promise<string> {
  const folder = cacheDir(`debugpy-${DEBUGPY.version}`);
  if (existsSync(path.join(folder, 'debugpy', '__init__.py'))) return Promise.resolve(folder);
  fetching ??= fetchDebugpy(folder, options).finally(() => { fetching = undefined; });
  return fetching;
}

async function fetchDebugpy(folder: string, options: WorkOptions): Promise<string> {
  const download = `${folder}.download-${process.pid}`;
  rmSync(download, { recursive: true, force: true });
  mkdirSync(download, { recursive: true });
  try {
    options.onProgress?.({ stage: 'venv', message: `downloading debugpy ${DEBUGPY.version} from PyPI (once)` });
    const python = process.env.AIRFLOW_RUNTIME_HOST_PYTHON ?? 'python3';
    const pip = await runProcess(python, ['-m', 'pip', 'download', '--quiet', '--no-deps', '--only-binary=:all:', '--platform', 'any', '--python-version', '3.10',
      '--dest', download, `debugpy==${DEBUGPY.version}`], { env: hostEnvironment('installer'), deadlineMs: 5 * 60_000, signal: options.signal });
    const wheel = path.join(download, DEBUGPY.wheel);
    if (pip.code !== 0 || !existsSync(wheel)) {
      throw new EngineError('harness-failed', `could not download debugpy ${DEBUGPY.version} (${python} -m pip download, exit ${pip.code}): ${pip.tail.split('\n').filter((l) => l.trim() && !l.includes('[notice]')).slice(-2).join(' ')}`,
        'check that python3 with pip can reach PyPI (proxy, PIP_INDEX_URL), or unpack the wheel into ' + folder);
    }
    const digest = createHash('sha256').update(readFileSync(wheel)).digest('hex');
    if (digest !== DEBUGPY.sha256) throw new EngineError('harness-failed', `the debugpy wheel from PyPI is not the one this version expects (sha256 ${digest})`, 'check your package index');
    const unpacked = path.join(download, 'unpacked');
    const unzip = await runProcess(python, ['-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])', wheel, unpacked], { env: hostEnvironment('harness'), deadlineMs: 60_000 });
    if (unzip.code !== 0 || !readdirSync(unpacked).includes('debugpy')) throw new EngineError('harness-failed', `could not unpack ${wheel}: ${unzip.tail.trim()}`);
    if (!existsSync(path.join(folder, 'debugpy', '__init__.py'))) rmSync(folder, { recursive: true, force: true }); // a broken earlier try
    try {
      renameSync(unpacked, folder);
    } catch (error) {
      // another process unpacked it first: theirs is the same pinned wheel
      if (!existsSync(path.join(folder, 'debugpy', '__init__.py'))) throw error;
    }
    return folder;
  } finally {
    rmSync(download, { recursive: true, force: true });
  }
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
