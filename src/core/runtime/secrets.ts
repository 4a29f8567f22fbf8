import { CONNECTION_PREFIX, VARIABLE_PREFIX } from './airflowEnv';
import type { RuntimeValues } from './values';

/** What a secret is shown as, here as in Airflow's own masker. */
export const REDACTED = '***';

/**
 * Airflow's `[core] sensitive_var_conn_names` defaults: a Variable (or a key inside its JSON, or an environment
 * variable) whose name contains one of these, in any case, is a secret.
 */
export const SENSITIVE_NAMES = [
  'access_token', 'api_key', 'apikey', 'authorization', 'passphrase', 'passwd', 'password', 'private_key', 'secret',
  'token', 'keyfile_dict', 'service_account',
] as const;

/**
 * Secrets shorter than this are not searched for in output, as Airflow 3's `[logging] min_length_masked_secret`
 * default: masking `dev` or `1` everywhere would garble every line and still hide nothing. Structured output
 * (`resolve`, the editor) hides them whatever their length.
 */
export const MIN_MASKED_LENGTH = 5;

/**
 * Which Variables are secret: only those with a sensitive name (and values under sensitive keys of a JSON Variable),
 * as Airflow decides, not every Variable. Variables mostly hold settings that a person reading a task's log needs to
 * see (a region, a bucket, a date); hiding each of their values wherever it appears in a line would garble the log
 * (`dev` in every path) while the same value printed by Airflow's own masker stays in clear, so the two would
 * disagree. Name a secret so (`partner_api_key`), or add your names to `airflowConfig.core.sensitive_var_conn_names`.
 */
export function sensitiveNames(configured?: string | number | boolean): string[] {
  const extra = typeof configured === 'string' ? configured.split(',').map((n) => n.trim().toLowerCase()).filter(Boolean) : [];
  return [...SENSITIVE_NAMES, ...extra];
}

export function isSensitiveName(name: string, names: readonly string[] = SENSITIVE_NAMES): boolean {
  const lower = name.trim().toLowerCase();
  return names.some((sensitive) => lower.includes(sensitive));
}

/**
 * The Airflow settings Airflow itself treats as secrets (`sensitive: true` in its config.yml and the Celery
 * provider's, Airflow 2.9 to 3.3, deprecated homes included: `conf.sensitive_config_values`): hidden in `resolve`,
 * the editor and the manifest, and searched for in output.
 */
export const SENSITIVE_CONFIG: readonly (readonly [section: string, key: string])[] = [
  ['core', 'fernet_key'], ['core', 'sql_alchemy_conn'], ['core', 'dataset_manager_kwargs'], ['core', 'asset_manager_kwargs'],
  ['core', 'internal_api_secret_key'], ['database', 'sql_alchemy_conn'], ['database', 'sql_alchemy_conn_async'],
  ['database', 'sql_alchemy_engine_args'], ['logging', 'remote_task_handler_kwargs'], ['secrets', 'backend_kwargs'],
  ['workers', 'secrets_backend_kwargs'], ['webserver', 'secret_key'], ['api', 'secret_key'], ['api_auth', 'jwt_secret'],
  ['smtp', 'smtp_password'], ['email', 'smtp_password'], ['sentry', 'sentry_dsn'],
  ['celery', 'broker_url'], ['celery', 'result_backend'], ['celery', 'flower_basic_auth'],
];

/**
 * Whether an Airflow setting is a secret: one of SENSITIVE_CONFIG, its `_cmd` and `_secret` forms (a command or a
 * secrets-backend key that yields it), or a key with a sensitive name (`*_password`, `*_token`).
 */
export function isSensitiveConfig(section: string, key: string, names: readonly string[] = SENSITIVE_NAMES): boolean {
  const [s, k] = [section.trim().toLowerCase(), key.trim().toLowerCase()];
  const base = k.replace(/_(cmd|secret)$/, '');
  return k !== base || SENSITIVE_CONFIG.some(([cs, ck]) => cs === s && (ck === k || ck === base)) || isSensitiveName(k, names);
}

/** `AIRFLOW__CORE__FERNET_KEY` → `['core', 'fernet_key']`; undefined for other names. */
function configOfVariable(name: string): [string, string] | undefined {
  const parts = name.split('__');
  return parts.length === 3 && parts[0] === 'AIRFLOW' && parts[1] && parts[2] ? [parts[1], parts[2]] : undefined;
}

/** A secret as the ways it is quoted in a URL show it: Airflow's `get_uri()` quotes a password with `quote(safe='')`. */
export function quotedForms(secret: string): string[] {
  const quote = (safe: string, plus: boolean) => [...Buffer.from(secret, 'utf8')].map((byte) => {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9_.~-]/.test(c) || safe.includes(c)) return c;
    return plus && c === ' ' ? '+' : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');
  let component = secret;
  try {
    component = encodeURIComponent(secret);
  } catch {
    // a lone surrogate: no URL shows it
  }
  return [...new Set([quote('', false), quote('/', false), quote('', true), component])].filter((form) => form !== secret);
}

interface UriParts {
  /** `postgres://` */
  scheme: string;
  login: string;
  /** As written (percent-encoded); undefined when the URI has none. */
  password?: string;
  host: string;
  path: string;
  query: string;
  fragment: string;
}

/** A connection URI cut as Airflow reads it; undefined for text that is not `type://...`. */
function uriParts(uri: string): UriParts | undefined {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)([^?#]*)(?:\?([^#]*))?(#.*)?$/s.exec(uri);
  if (!match) return undefined;
  const [, scheme, authority, path, query = '', fragment = ''] = match;
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at) : '';
  const colon = userinfo.indexOf(':');
  return {
    scheme, path, query, fragment,
    login: colon >= 0 ? userinfo.slice(0, colon) : userinfo,
    password: colon >= 0 ? userinfo.slice(colon + 1) : undefined,
    host: at >= 0 ? authority.slice(at + 1) : authority,
  };
}

/** The URI with its password and its query's values (the connection's extras) as `***`. */
export function redactUri(uri: string): string {
  const parts = uriParts(uri);
  if (!parts) return REDACTED; // not a URI we can read: all of it may be the secret
  const userinfo = parts.password !== undefined ? `${parts.login}:${REDACTED}@` : parts.login ? `${parts.login}@` : '';
  const query = parts.query ? `?${parts.query.split('&').map((pair) => pair.includes('=') ? `${pair.slice(0, pair.indexOf('='))}=${REDACTED}` : pair).join('&')}` : '';
  return `${parts.scheme}${userinfo}${parts.host}${parts.path}${query}${parts.fragment}`;
}

function decoded(text: string, plusIsSpace = false): string {
  try {
    return decodeURIComponent(plusIsSpace ? text.replace(/\+/g, ' ') : text);
  } catch {
    return text;
  }
}

function parsedJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Every string and number inside a JSON value. */
function leaves(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(leaves);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(leaves);
  return typeof value === 'string' || typeof value === 'number' ? [String(value)] : [];
}

/** The values under sensitive keys of a JSON value, as Airflow's masker redacts a dict. */
function sensitiveLeaves(value: unknown, names: readonly string[]): string[] {
  if (Array.isArray(value)) return value.flatMap((item) => sensitiveLeaves(item, names));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, item]) => isSensitiveName(key, names) ? leaves(item) : sensitiveLeaves(item, names));
}

/** A connection's secrets, from its `AIRFLOW_CONN_*` text: the password (as written and decoded) and the extras. */
function connectionSecrets(text: string): string[] {
  if (text.trimStart().startsWith('{')) {
    const fields = parsedJson(text) as { password?: unknown; extra?: unknown } | undefined;
    const extra = typeof fields?.extra === 'string' ? [fields.extra, ...leaves(parsedJson(fields.extra))] : leaves(fields?.extra);
    return [...(typeof fields?.password === 'string' ? [fields.password] : []), ...extra];
  }
  const parts = uriParts(text);
  if (!parts) return [text];
  const found = parts.password ? [parts.password, decoded(parts.password)] : [];
  for (const pair of parts.query.split('&').filter(Boolean)) {
    const [key, value = ''] = pair.split(/=(.*)/s);
    const plain = decoded(value, true);
    found.push(value, plain, ...(decoded(key, true) === '__extra__' ? leaves(parsedJson(plain)) : []));
  }
  return found;
}

/**
 * The secrets in a runtime's environment: connection passwords and extras (`AIRFLOW_CONN_*`, URI or JSON), the
 * values of Variables and other environment variables with a sensitive name, and what sits under sensitive keys of
 * a JSON Variable. `AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES` adds names, as it does in Airflow.
 */
export function secretsOfEnvironment(env: Readonly<Record<string, string>>): string[] {
  const names = sensitiveNames(env.AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES);
  const found = Object.entries(env).flatMap(([name, text]) => secretsOfVariable(name, text, names));
  return [...new Set(found)].filter(Boolean);
}

/**
 * The environment variables that hold a secret, by the rule of secretsOfEnvironment: what a deployment must supply
 * itself (the production manifest keeps their names, never their values).
 */
export function secretVariableNames(env: Readonly<Record<string, string>>): Set<string> {
  const names = sensitiveNames(env.AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES);
  return new Set(Object.entries(env).filter(([name, text]) => secretsOfVariable(name, text, names).some(Boolean)).map(([name]) => name));
}

function secretsOfVariable(name: string, text: string, names: readonly string[]): string[] {
  if (name.startsWith(CONNECTION_PREFIX)) return connectionSecrets(text);
  const config = configOfVariable(name);
  if (config && isSensitiveConfig(config[0], config[1], names)) return [text, ...(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? connectionSecrets(text) : [])];
  if (isSensitiveName(name.startsWith(VARIABLE_PREFIX) ? name.slice(VARIABLE_PREFIX.length) : name, names)) return [text, ...leaves(parsedJson(text))];
  if (name.startsWith(VARIABLE_PREFIX)) return sensitiveLeaves(parsedJson(text), names);
  return [];
}

/**
 * A function that replaces every secret in a text with `***`, longest first. Output reaches it a line at a time,
 * so a secret of several lines (a private key) is searched line by line; secrets shorter than MIN_MASKED_LENGTH
 * are left (see there).
 */
export function textRedactor(secrets: readonly string[]): (text: string) => string {
  const searched = new Set<string>();
  for (const secret of secrets) {
    for (const part of [secret, ...secret.split(/\r?\n/)]) {
      const trimmed = part.trim();
      if (trimmed.length >= MIN_MASKED_LENGTH) searched.add(trimmed);
      // what a JSON or Python repr of the value shows when it holds quotes, backslashes or control characters
      const escaped = JSON.stringify(trimmed).slice(1, -1);
      if (escaped !== trimmed && escaped.length >= MIN_MASKED_LENGTH) searched.add(escaped);
      // what a URL shows (a connection's get_uri(), an extra in a query): Airflow's own masker hides these too
      if (trimmed.length >= MIN_MASKED_LENGTH) for (const form of quotedForms(trimmed)) searched.add(form);
    }
  }
  if (searched.size === 0) return (text) => text;
  const pattern = new RegExp([...searched].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|'), 'g');
  return (text) => text.replace(pattern, REDACTED);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The values with every secret replaced by `***`, whatever its length, for what shows a runtime to people
 * (`resolve`, the editor's effective runtime): connection passwords and extras, sensitive Variables (and sensitive
 * keys inside JSON Variables), and environment variables that are secrets by the same rules.
 */
export function redactedValues(values: RuntimeValues): RuntimeValues {
  const names = sensitiveNames(values.env?.AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES ?? values.airflowConfig?.core?.sensitive_var_conn_names);
  const out = structuredClone(values);
  const hideSensitiveKeys = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(hideSensitiveKeys);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, isSensitiveName(key, names) ? REDACTED : hideSensitiveKeys(item)]));
  };
  const hideConnection = <T>(connection: T): T => {
    if (typeof connection === 'string') return redactUri(connection) as T;
    const fields = { ...(connection as Record<string, unknown>) };
    for (const secret of ['password', 'extra']) if (fields[secret] !== undefined) fields[secret] = REDACTED;
    return fields as T;
  };
  for (const [key, value] of Object.entries(out.variables ?? {})) {
    out.variables![key] = isSensitiveName(key, names) ? REDACTED : hideSensitiveKeys(value) as typeof value;
  }
  for (const [connId, value] of Object.entries(out.connections ?? {})) out.connections![connId] = hideConnection(value);
  for (const [section, keys] of Object.entries(out.airflowConfig ?? {})) {
    for (const key of Object.keys(keys)) if (isSensitiveConfig(section, key, names)) keys[key] = REDACTED;
  }
  for (const [name, value] of Object.entries(out.env ?? {})) {
    const config = configOfVariable(name);
    if (config && isSensitiveConfig(config[0], config[1], names)) {
      out.env![name] = REDACTED;
    } else if (name.startsWith(CONNECTION_PREFIX)) {
      const text = String(value);
      const fields = text.trimStart().startsWith('{') ? parsedJson(text) : undefined;
      out.env![name] = fields && typeof fields === 'object' ? JSON.stringify(hideConnection(fields)) : redactUri(text);
    } else if (isSensitiveName(name.startsWith(VARIABLE_PREFIX) ? name.slice(VARIABLE_PREFIX.length) : name, names)) {
      out.env![name] = REDACTED;
    } else if (name.startsWith(VARIABLE_PREFIX) && typeof value === 'string' && /^\s*[[{]/.test(value)) {
      const parsed = parsedJson(value);
      if (parsed !== undefined) out.env![name] = JSON.stringify(hideSensitiveKeys(parsed));
    }
  }
  return out;
}
