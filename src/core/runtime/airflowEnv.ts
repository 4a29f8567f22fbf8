import type { PathFinding } from './checks';
import type { ConnectionFields, JsonValue, RuntimeValues } from './values';

export const VARIABLE_PREFIX = 'AIRFLOW_VAR_';
export const CONNECTION_PREFIX = 'AIRFLOW_CONN_';

/** Airflow looks a Variable up as `AIRFLOW_VAR_` + the key uppercased, and a Connection likewise. */
export const variableEnvName = (key: string): string => `${VARIABLE_PREFIX}${key.toUpperCase()}`;
export const connectionEnvName = (connId: string): string => `${CONNECTION_PREFIX}${connId.toUpperCase()}`;

/** A Variable as Airflow reads it from the environment: a string as it is, any other value JSON-encoded. */
export function variableText(value: JsonValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A Connection as Airflow reads it from the environment: a URI as it is, fields as JSON (Airflow 2.3+). */
export function connectionText(value: string | ConnectionFields): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** `variables` and `connections` as the environment variables Airflow reads them from. */
export function variablesAndConnectionsEnvironment(values: RuntimeValues): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values.variables ?? {})) out[variableEnvName(key)] = variableText(value);
  for (const [connId, value] of Object.entries(values.connections ?? {})) out[connectionEnvName(connId)] = connectionText(value);
  return out;
}

/**
 * Two keys of one file that Airflow cannot tell apart (`feed` and `FEED` are both `AIRFLOW_VAR_FEED`): the later
 * one is an error at its line and left out, so that which value a task gets never depends on key order.
 */
export function checkAirflowNames(values: RuntimeValues): PathFinding[] {
  const findings: PathFinding[] = [];
  for (const [field, envName, what] of [
    ['variables', variableEnvName, 'Variable'], ['connections', connectionEnvName, 'Connection'],
  ] as const) {
    const seen = new Map<string, string>();
    for (const key of Object.keys(values[field] ?? {})) {
      const name = envName(key);
      const earlier = seen.get(name);
      if (earlier === undefined) {
        seen.set(name, key);
        continue;
      }
      findings.push({
        severity: 'error', code: 'conflict', at: [field, key], drop: [field, key], part: 'key',
        message: `"${key}" and "${earlier}" in \`${field}\` are the same ${what} to Airflow (${name}, case does not count): keep one`,
      });
    }
  }
  return findings;
}
