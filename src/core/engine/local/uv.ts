import * as path from 'node:path';
import { cacheDir } from '../cache';
import type { WorkOptions } from '../types';
import { ensureWheel, type PinnedWheel } from '../wheels';
import { which } from './which';

/**
 * uv, the installer that builds a venv with Airflow in seconds where pip takes minutes: its PyPI wheel (a static
 * binary per platform), pinned and hash-checked like debugpy, fetched into our cache on first use.
 */
export const UV: PinnedWheel = {
  name: 'uv',
  version: '0.13.9',
  marker: path.join('uv-0.13.9.data', 'scripts', 'uv'),
  files: {
    'linux-x64': { file: 'uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl', sha256: 'd7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19', pipPlatform: 'manylinux_2_17_x86_64' },
    'linux-arm64': { file: 'uv-0.13.9-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl', sha256: '5435c5ce14a56431208ca0996416d310f1598e8c2c8ba707688985a16bb82dbe', pipPlatform: 'manylinux_2_17_aarch64' },
    'darwin-arm64': { file: 'uv-0.13.9-py3-none-macosx_11_0_arm64.whl', sha256: '66c512266d633bef48384a1f53003f41f2a8e7b36fe6e7fbfd3e0fd52d96fa63', pipPlatform: 'macosx_11_0_arm64' },
    'darwin-x64': { file: 'uv-0.13.9-py3-none-macosx_10_12_x86_64.whl', sha256: 'c16ed11e013557536b3e60065f1b912f6407bd6518e041b961e23ef9e6b4fbf5', pipPlatform: 'macosx_10_12_x86_64' },
  },
};

/**
 * The uv binary to build venvs with: ours (pinned) when it can be had, else a `uv` on PATH, else undefined (pip
 * then builds the venv, slowly, and says so).
 */
export async function ensureUv(options: WorkOptions = {}): Promise<string | undefined> {
  try {
    const folder = await ensureWheel(UV, cacheDir(`uv-${UV.version}`), options);
    return path.join(folder, UV.marker);
  } catch {
    return which('uv');
  }
}
