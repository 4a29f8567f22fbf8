import * as path from 'node:path';

/** Runtime file names: `airflow-runtime.yaml` for a folder, `<dag_stem>.airflow-runtime.yaml` for one DAG file. */
export const FOLDER_RUNTIME_FILE = 'airflow-runtime.yaml';
const DAG_RUNTIME_SUFFIX = '.airflow-runtime.yaml';

export type RuntimeFileScope = 'folder' | 'dag';

export function runtimeFileScope(filePath: string): RuntimeFileScope | undefined {
  const name = path.basename(filePath);
  if (name === FOLDER_RUNTIME_FILE) return 'folder';
  if (name.endsWith(DAG_RUNTIME_SUFFIX) && name.length > DAG_RUNTIME_SUFFIX.length) return 'dag';
  return undefined;
}

/** `dags/etl.py` → `dags/etl.airflow-runtime.yaml`. */
export function dagRuntimeFileFor(dagFile: string): string {
  const parsed = path.parse(dagFile);
  return path.join(parsed.dir, `${parsed.name}${DAG_RUNTIME_SUFFIX}`);
}

/** The DAG files among `dagFiles` that a runtime file applies to: its folder and below, or its one DAG file. */
export function dagFilesAffectedBy(runtimeFile: string, dagFiles: readonly string[]): string[] {
  const scope = runtimeFileScope(runtimeFile);
  if (scope === 'dag') return dagFiles.filter((file) => file === dagFileOf(runtimeFile));
  if (scope !== 'folder') return [];
  const folder = path.dirname(runtimeFile) + path.sep;
  return dagFiles.filter((file) => file.startsWith(folder));
}

/** `dags/etl.airflow-runtime.yaml` → `dags/etl.py`: the DAG file a file-level runtime file belongs to. */
export function dagFileOf(runtimeFile: string): string | undefined {
  if (runtimeFileScope(runtimeFile) !== 'dag') return undefined;
  return runtimeFile.slice(0, -DAG_RUNTIME_SUFFIX.length) + '.py';
}
