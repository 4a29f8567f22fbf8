/**
 * The keys of a DAG file's DAGs, tasks and whole-DAG runs: the Testing view's item ids, the run states' keys, the
 * rendered templates' documents. A task id cannot hold a space or a parenthesis, so no task has a whole run's key.
 */
export function dagKey(file: string, dagId: string): string {
  return `${file}::${dagId}`;
}

export function taskKey(file: string, dagId: string, taskId: string): string {
  return `${dagKey(file, dagId)}::${taskId}`;
}

export function dagRunKey(file: string, dagId: string): string {
  return `${dagKey(file, dagId)}::(whole DAG)`;
}
