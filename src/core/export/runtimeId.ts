import { createHash } from 'node:crypto';

/** What defines the runtime a DAG file is parsed and run in, in production: the input of its id. */
export interface RuntimeIdentity {
  /** As the runtime file names it (a digest pinned there, `name@sha256:…`, is part of it). */
  image: string;
  /** Every environment variable the runtime gives its tasks, secret values included (they never leave the hash). */
  env: Readonly<Record<string, string>>;
  /** Workspace folders on sys.path, relative to the project root (POSIX), so the id is the same on every machine. */
  pythonPath: readonly string[];
  airflowConfig: Readonly<Record<string, Readonly<Record<string, string | number | boolean>>>>;
  /** Where its tasks go (`deploy.queue`, `deploy.executor`); in the hash only when set. */
  deploy?: { queue?: string; executor?: string };
}

/** JSON with object keys sorted (by code point, at every depth) and no spaces: the same text on every machine. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort(byCodePoint);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * `rt-` + the first 12 hex digits of the SHA-256 of the identity's canonical JSON. What the files say, never what
 * a Docker engine happens to answer: a digest looked up (or not, when the engine is away or slow) would give one
 * project two ids, and every queue, bundle and processor named after them would change with it.
 */
export function runtimeId(identity: RuntimeIdentity): string {
  const deploy = identity.deploy && Object.values(identity.deploy).some((v) => v !== undefined) ? identity.deploy : undefined;
  const input = {
    image: identity.image,
    env: identity.env,
    pythonPath: identity.pythonPath,
    airflowConfig: identity.airflowConfig,
    deploy,
  };
  return `rt-${createHash('sha256').update(canonicalJson(input)).digest('hex').slice(0, 12)}`;
}
