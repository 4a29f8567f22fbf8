import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_IMAGE } from './declaredAirflow';
import type { RuntimeValues } from './values';

/**
 * What each runtime said about its own Airflow, the last time it ran: the truth that a tag can only suggest.
 * Every parse result carries the version the runtime reported; the CLI and the editor record it here (one file in
 * our cache, shared by both), and the rule for which files are DAG files reads it before any guess. A runtime that
 * changes (a tag moved to a new image, a venv rebuilt) is recorded again by its next answer.
 */
interface Record {
  version: string;
  at: number;
}

function storeFile(): string {
  // the engines' cache folder (engine/cache.ts), without importing the engines into runtime code
  const base = process.env.AIRFLOW_RUNTIME_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'airflow-runtime');
  return path.join(base, 'reported-airflow.json');
}

let memo: { file: string; mtimeMs: number; records: { [key: string]: Record } } | undefined;

function load(): { [key: string]: Record } {
  const file = storeFile();
  let mtimeMs: number;
  try {
    mtimeMs = statSync(file).mtimeMs;
  } catch {
    return {};
  }
  if (memo && memo.file === file && memo.mtimeMs === mtimeMs) return memo.records;
  let records: { [key: string]: Record } = {};
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) records = parsed as { [key: string]: Record };
  } catch {
    // unreadable: as if nothing was recorded (the next answers write it again)
  }
  memo = { file, mtimeMs, records };
  return records;
}

/** What identifies a runtime for this purpose: its image (or build) and its local interpreter, as the files say. */
export function runtimeKeyOf(values: RuntimeValues): string {
  const image = values.build ? `build:${values.build.context}:${values.build.dockerfile ?? 'Dockerfile'}:${values.build.target ?? ''}` : values.image ?? DEFAULT_IMAGE;
  return JSON.stringify([image, values.local?.python ?? null, values.local?.requirements ?? null]);
}

/** The Airflow version this runtime reported last, if it ever ran here. */
export function reportedAirflowOf(values: RuntimeValues): string | undefined {
  const record = load()[runtimeKeyOf(values)];
  return typeof record?.version === 'string' && /^\d+\.\d+/.test(record.version) ? record.version : undefined;
}

/** Records what a runtime reported; true when it changes what was known (a file list made before may be wrong). */
export function recordReportedAirflow(values: RuntimeValues, version: string | undefined): boolean {
  if (!version || !/^\d+\.\d+/.test(version)) return false;
  const key = runtimeKeyOf(values);
  const records = { ...load() };
  if (records[key]?.version === version) return false;
  records[key] = { version, at: Date.now() };
  const file = storeFile();
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.${Date.now()}`;
    writeFileSync(temp, JSON.stringify(records, null, 1));
    renameSync(temp, file);
    memo = { file, mtimeMs: statSync(file).mtimeMs, records };
  } catch {
    // a cache we cannot write: the answer is still right for this process
    memo = { file, mtimeMs: -1, records };
  }
  return true;
}
