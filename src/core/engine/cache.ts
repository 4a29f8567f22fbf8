import * as os from 'node:os';
import * as path from 'node:path';

/** Our cache folder: venvs built from requirements, the harness's migrated metadata DBs. */
export function cacheDir(...parts: string[]): string {
  const base = process.env.AIRFLOW_RUNTIME_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'airflow-runtime');
  return path.join(base, ...parts);
}
