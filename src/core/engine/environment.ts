import { readFileSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import { variablesAndConnectionsEnvironment } from '../runtime/airflowEnv';
import type { RuntimeValues } from '../runtime/values';
import { EngineError } from './errors';

/**
 * The runtime's own environment: envFile, then env (env wins), then `variables` and `connections` as
 * AIRFLOW_VAR_* and AIRFLOW_CONN_* (they win over the same names in env, at any layer: the field made for a
 * Variable says more than a name in a list of environment variables), then airflowConfig as AIRFLOW__SECTION__KEY.
 * The engines add their own variables (paths, caches) on top.
 */
export function runtimeEnvironment(values: RuntimeValues): Record<string, string> {
  const out: Record<string, string> = {};
  if (values.envFile) {
    let text: string;
    try {
      text = readFileSync(values.envFile, 'utf8');
    } catch (error) {
      throw new EngineError('bad-runtime', `cannot read envFile ${values.envFile}: ${(error as Error).message}`, 'fix the envFile path in the runtime file');
    }
    if (text.includes('\0')) throw new EngineError('bad-runtime', `envFile ${values.envFile} holds binary data (a NUL byte)`, 'point envFile at a text file of NAME=value lines');
    Object.assign(out, parseDotenv(text));
  }
  for (const [key, value] of Object.entries(values.env ?? {})) out[key] = String(value);
  Object.assign(out, variablesAndConnectionsEnvironment(values));
  for (const [section, keys] of Object.entries(values.airflowConfig ?? {})) {
    for (const [key, value] of Object.entries(keys)) out[`AIRFLOW__${section.toUpperCase()}__${key.toUpperCase()}`] = String(value);
  }
  return out;
}
