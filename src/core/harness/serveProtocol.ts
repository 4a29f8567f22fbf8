import type { ParseResult } from './parseResult';

/**
 * The warm server's protocol (`python -m airflow_runtime_harness serve`): one JSON request per line on its stdin;
 * on its stdout a `ready` line, then one reply per request when that request is done, in any order. Its one
 * definition is media/serve-protocol.schema.json: these types and the harness's real messages are checked against it.
 */

/** Parse one DAG file, in a fresh fork of the server. */
export interface ServeRequest {
  /** Chosen by the sender (the engines count from 1); the reply carries it back. */
  id: number | string;
  file: string;
  /** Absent or empty: the file's folder. */
  dagsFolder?: string;
  /** Seconds the DAG file's own code may run; absent: the server's `--timeout`. */
  timeout?: number;
  /** Where the harness writes the result. Without it the result comes back in the reply: no file to share. */
  out?: string;
}

/** The first line: Airflow is imported and the server takes requests. */
export interface ServeReady {
  ready: true;
  airflowVersion: string;
  pid: number;
  /** Requests the harness parses at once (each in its own child). */
  concurrency: number;
  /** Why the warm-up failed (it only costs speed); null when it did not. */
  warmup: string | null;
  preImport: boolean;
}

/** The file was parsed (the DAG file's own failures are in the result). Exactly one of `out` and `result`. */
export interface ServeParsed {
  id: number | string;
  ok: true;
  durationMs: number;
  timedOut: boolean;
  /** How many DAGs and import errors the result has. */
  dags: number;
  importErrors: number;
  /** The request's `out`, made absolute: the result was written there. */
  out?: string;
  result?: ParseResult;
}

/** The harness could not parse the file: a missing file, a request it could not read (no id), a harness error. */
export interface ServeFailed {
  id: number | string | null;
  ok: false;
  error: string;
  /** What kind of failure, as the harness's `error` events have it; absent: harness-failed. */
  code?: string;
}

export type ServeReply = ServeParsed | ServeFailed;
