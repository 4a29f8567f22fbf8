import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import * as path from 'node:path';

const SKIPPED = new Set(['node_modules', '__pycache__', 'venv', '.venv', 'site-packages', 'logs']);

/** Airflow's own safe-mode heuristic: a DAG file mentions both "airflow" and "dag". */
export function looksLikeDagFile(file: string): boolean {
  if (!file.endsWith('.py')) return false;
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(256 * 1024);
    const text = buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, 0)).toString('utf8').toLowerCase();
    return text.includes('airflow') && text.includes('dag');
  } finally {
    closeSync(fd);
  }
}

/** DAG files named by the user: files as given, folders searched (hidden folders and caches skipped). */
export function findDagFiles(paths: string[]): { files: string[]; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory() && !entry.name.startsWith('.') && !SKIPPED.has(entry.name)) walk(full);
      else if (entry.isFile() && looksLikeDagFile(full)) files.push(full);
    }
  };
  for (const given of paths) {
    const absolute = path.resolve(given);
    let kind: 'file' | 'dir' | undefined;
    try {
      kind = statSync(absolute).isDirectory() ? 'dir' : 'file';
    } catch {
      missing.push(given);
      continue;
    }
    if (kind === 'dir') walk(absolute);
    else files.push(absolute);
  }
  return { files: [...new Set(files)].sort(), missing };
}
