/** The shape of a runtime file's values, as the schema in media/ defines them. */
export type Scalar = string | number | boolean;

export interface BuildSpec {
  context: string;
  dockerfile?: string;
  args?: Record<string, Scalar>;
  target?: string;
}

export interface LocalSpec {
  python?: string;
  requirements?: string;
}

export interface MountSpec {
  source: string;
  target: string;
  readOnly?: boolean;
  allowOutsideWorkspace?: boolean;
}

/** Any JSON value but null: what a variable may hold (a string as it is, the rest JSON-encoded for Airflow). */
export type JsonValue = string | number | boolean | JsonValue[] | { [key: string]: JsonValue };

/** An Airflow Connection by its fields; Airflow 2.3+ reads this, JSON-encoded, from `AIRFLOW_CONN_<ID>`. */
export interface ConnectionFields {
  conn_type: string;
  description?: string;
  host?: string;
  login?: string;
  password?: string;
  schema?: string;
  port?: number;
  extra?: Record<string, JsonValue> | string;
}

export interface RuntimeValues {
  image?: string;
  pull?: 'always' | 'missing' | 'never';
  build?: BuildSpec;
  /** Python requirements on top of `image`: a requirements file (absolute after resolve) or requirement strings. */
  requirements?: string | string[];
  /** Debian packages on top of `image`: a packages file (absolute after resolve) or package names. */
  packages?: string | string[];
  local?: LocalSpec;
  env?: Record<string, Scalar>;
  envFile?: string;
  /** Airflow Variables by key: `AIRFLOW_VAR_<KEY>`. */
  variables?: Record<string, JsonValue>;
  /** Airflow Connections by id, a URI or fields: `AIRFLOW_CONN_<ID>`. */
  connections?: Record<string, string | ConnectionFields>;
  mounts?: MountSpec[];
  /** Workspace folders on sys.path in the runtime (absolute after resolve). */
  pythonPath?: string[];
  dagsFolder?: string;
  network?: string;
  /** Who the Docker container runs as; `root` is the way to ask for root in a root image. */
  user?: string | number;
  resources?: { memory?: string | number; cpus?: number };
  timeouts?: { parse?: string | number; start?: string | number; run?: string | number };
  airflowConfig?: Record<string, Record<string, Scalar>>;
  /** Production only (`export`, the policy package): the Celery queue and executor alias of the runtime's tasks. */
  deploy?: { queue?: string; executor?: string };
}

/** A place in the values: `['env', 'FOO']`, `['mounts', 0, 'source']`. */
export type KeyPath = readonly (string | number)[];

/** `env.FOO`, `mounts[0].source`: how key paths are shown to people and used as map keys. */
export function keyPathString(keyPath: KeyPath): string {
  let out = '';
  for (const key of keyPath) out += typeof key === 'number' ? `[${key}]` : out ? `.${key}` : key;
  return out;
}

/** Removes the values at the given paths, in place; list items are removed, not left as holes. */
export function dropPaths(values: Record<string, unknown>, paths: readonly KeyPath[]): void {
  const doomed = new Map<unknown, Set<string | number>>();
  for (const keyPath of paths) {
    if (keyPath.length === 0) continue;
    let parent: unknown = values;
    for (const key of keyPath.slice(0, -1)) parent = (parent as Record<string | number, unknown> | undefined)?.[key];
    if (parent === null || typeof parent !== 'object') continue;
    const set = doomed.get(parent) ?? new Set();
    set.add(keyPath[keyPath.length - 1]);
    doomed.set(parent, set);
  }
  for (const [parent, keys] of doomed) {
    if (Array.isArray(parent)) {
      const kept = parent.filter((_, i) => !keys.has(i));
      parent.splice(0, parent.length, ...kept);
    } else {
      for (const key of keys) delete (parent as Record<string | number, unknown>)[key];
    }
  }
  // A mapping emptied by the removal says nothing: drop it too, so `resources: {}` does not override a parent's.
  for (const keyPath of [...paths].sort((a, b) => b.length - a.length)) {
    for (let n = keyPath.length - 1; n > 0; n--) {
      const prefix = keyPath.slice(0, n);
      let parent: unknown = values;
      for (const key of prefix.slice(0, -1)) parent = (parent as Record<string | number, unknown> | undefined)?.[key];
      const container = (parent as Record<string | number, unknown> | undefined)?.[prefix[n - 1]];
      if (container && typeof container === 'object' && !Array.isArray(container) && Object.keys(container).length === 0) {
        delete (parent as Record<string | number, unknown>)[prefix[n - 1]];
      } else {
        break;
      }
    }
  }
}
