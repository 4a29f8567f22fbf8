import * as path from 'node:path';
import type { FileProbe } from '../../src/core/runtime/checks';
import { readRuntimeFile, type RuntimeFile } from '../../src/core/runtime/read';

export const ROOT = '/ws';

/** A disk made of the listed paths: folders end with '/'. */
export function fakeDisk(...entries: string[]): FileProbe {
  const kinds = new Map<string, 'file' | 'directory'>();
  for (const entry of entries) {
    const isDir = entry.endsWith('/');
    const full = path.resolve(ROOT, entry);
    kinds.set(full, isDir ? 'directory' : 'file');
    for (let dir = path.dirname(full); dir !== path.dirname(dir); dir = path.dirname(dir)) kinds.set(dir, 'directory');
  }
  kinds.set('/', 'directory');
  return { kind: (p) => kinds.get(path.resolve(p)) };
}

export function read(text: string, file = '/ws/dags/airflow-runtime.yaml', probe: FileProbe = fakeDisk()): RuntimeFile {
  return readRuntimeFile(file, text, { workspaceRoot: ROOT, probe });
}

/** `line:col severity code` of each problem: what a test asserts on, besides the message. */
export function where(file: RuntimeFile): string[] {
  return file.problems.map((p) => `${p.start.line}:${p.start.column} ${p.severity} ${p.code}`);
}
