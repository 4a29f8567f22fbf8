import * as path from 'node:path';
import { hostPathOf } from './plan';

/** One row of Airflow 3's `GET /api/v2/importErrors`. */
export interface ImportErrorRecord {
  filename: string;
  bundle_name?: string | null;
  stack_trace: string;
}

/** An import error of a DAG processor, where a person looks: a host file and line, the exception's last line. */
export interface DeployedImportError {
  /** The DAG file Airflow names (on the host). */
  file: string;
  /** The deepest frame of the traceback in the project (the DAG file or a module it imports), on the host. */
  at: { file: string; line: number };
  message: string;
  bundle: string | null;
  traceback: string;
}

const FRAME = /^\s*File "([^"]+)", line (\d+)/;

/**
 * The API's import errors mapped back to the host: Airflow names the file relative to its bundle (absolute in
 * older releases) and its traceback has the container's paths.
 */
export function importErrorsOf(records: readonly ImportErrorRecord[], bundleSources: Readonly<Record<string, string>>, dagRoot: string, dagsFolder: string): DeployedImportError[] {
  return records.map((record) => {
    const bundleRoot = record.bundle_name ? bundleSources[record.bundle_name] : undefined;
    const file = path.posix.isAbsolute(record.filename)
      ? hostPathOf(record.filename, dagRoot, dagsFolder) ?? record.filename
      : path.join(bundleRoot ?? dagRoot, ...record.filename.split('/'));
    let at = { file, line: 1 };
    for (const line of record.stack_trace.split('\n')) {
      const frame = FRAME.exec(line);
      const host = frame ? hostPathOf(frame[1], dagRoot, dagsFolder) : undefined;
      if (frame && host) at = { file: host, line: Number(frame[2]) };
    }
    const message = record.stack_trace.trim().split('\n').filter((l) => l.trim()).pop()?.trim() ?? 'import error';
    return { file, at, message, bundle: record.bundle_name ?? null, traceback: record.stack_trace };
  }).sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}
