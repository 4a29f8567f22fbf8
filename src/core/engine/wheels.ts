import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { EngineError } from './errors';
import { hostEnvironment } from './local/hostEnvironment';
import { runProcess } from './processTree';
import type { WorkOptions } from './types';

/** A wheel from PyPI that we run or hand to a runtime: pinned by version and by the hash of each platform's file. */
export interface PinnedWheel {
  name: string;
  version: string;
  /** By `platformKey()`: the file pip downloads for it and its sha256. `any` for a pure-Python wheel. */
  files: Record<string, { file: string; sha256: string; pipPlatform: string }>;
  /** A path inside the unpacked wheel that proves it is complete (`debugpy/__init__.py`, `uv-*.data/scripts/uv`). */
  marker: string;
}

/** `linux-x64`, `darwin-arm64`...: which of a wheel's files this machine takes. */
export function platformKey(): string {
  return `${process.platform}-${process.arch}`;
}

const fetching = new Map<string, Promise<string>>();

/**
 * The wheel unpacked into `folder`: downloaded once from PyPI with the host's `python3 -m pip download` (so pip's
 * index, proxy and CA settings apply), checked against its pinned hash, unpacked, and renamed into place in one
 * step (another process doing the same at once finds the folder complete). Never changes the user's environments.
 */
export function ensureWheel(wheel: PinnedWheel, folder: string, options: WorkOptions = {}): Promise<string> {
  if (existsSync(path.join(folder, wheel.marker))) return Promise.resolve(folder);
  // shared by every caller that waits for it: one caller's cancel must not end it for the others
  const pending = fetching.get(folder) ?? fetchWheel(wheel, folder, { onProgress: options.onProgress }).finally(() => fetching.delete(folder));
  fetching.set(folder, pending);
  return pending;
}

async function fetchWheel(wheel: PinnedWheel, folder: string, options: WorkOptions): Promise<string> {
  const pinned = wheel.files[platformKey()] ?? wheel.files.any;
  if (!pinned) throw new EngineError('harness-failed', `${wheel.name} ${wheel.version} has no pinned wheel for ${platformKey()}`, `install ${wheel.name} yourself`);
  const download = `${folder}.download-${process.pid}`;
  rmSync(download, { recursive: true, force: true });
  mkdirSync(download, { recursive: true });
  try {
    options.onProgress?.({ stage: 'venv', message: `downloading ${wheel.name} ${wheel.version} from PyPI (once)` });
    const python = process.env.AIRFLOW_RUNTIME_HOST_PYTHON ?? 'python3';
    const pip = await runProcess(python, ['-m', 'pip', 'download', '--quiet', '--no-deps', '--only-binary=:all:', '--platform', pinned.pipPlatform, '--python-version', '3.10',
      '--dest', download, `${wheel.name}==${wheel.version}`], { env: hostEnvironment('installer'), deadlineMs: 5 * 60_000, signal: options.signal });
    const file = path.join(download, pinned.file);
    if (pip.code !== 0 || !existsSync(file)) {
      throw new EngineError('harness-failed', `could not download ${wheel.name} ${wheel.version} (${python} -m pip download, exit ${pip.code}): ${pip.tail.split('\n').filter((l) => l.trim() && !l.includes('[notice]')).slice(-2).join(' ')}`,
        `check that python3 with pip can reach PyPI (proxy, PIP_INDEX_URL), or unpack ${pinned.file} into ${folder}`);
    }
    const digest = createHash('sha256').update(readFileSync(file)).digest('hex');
    if (digest !== pinned.sha256) throw new EngineError('harness-failed', `the ${wheel.name} wheel from PyPI is not the one this version expects (sha256 ${digest})`, 'check your package index');
    const unpacked = path.join(download, 'unpacked');
    // zipfile keeps no permissions: executables in the wheel's scripts get theirs back
    const unzip = await runProcess(python, ['-c', [
      'import os, sys, zipfile',
      'z = zipfile.ZipFile(sys.argv[1])',
      'for i in z.infolist():',
      '    p = z.extract(i, sys.argv[2])',
      '    mode = (i.external_attr >> 16) & 0o777',
      '    if mode: os.chmod(p, mode)',
    ].join('\n'), file, unpacked], { env: hostEnvironment('harness'), deadlineMs: 60_000 });
    if (unzip.code !== 0 || !existsSync(path.join(unpacked, wheel.marker))) throw new EngineError('harness-failed', `could not unpack ${file}: ${unzip.tail.trim()}`);
    if (!existsSync(path.join(folder, wheel.marker))) rmSync(folder, { recursive: true, force: true }); // a broken earlier try
    try {
      renameSync(unpacked, folder);
    } catch (error) {
      // another process unpacked it first: theirs is the same pinned wheel
      if (!existsSync(path.join(folder, wheel.marker))) throw error;
    }
    return folder;
  } finally {
    rmSync(download, { recursive: true, force: true });
  }
}
