/**
 * The states of a whole-DAG run's task instances, folded the one way the editor, the CLI and the assistants' tools
 * say them: which count as failures, what a task's outcome is when it ran as several mapped instances, the summary.
 */

/** A task instance as people name it: `task`, or `task[2]` for map index 2 (-1: not mapped). */
export function taskInstanceName(taskId: string, mapIndex: number): string {
  return `${taskId}${mapIndex >= 0 ? `[${mapIndex}]` : ''}`;
}

/** A state that fails the run: the task failed, or did not run because an upstream task failed. */
export function isFailedState(state: string): boolean {
  return state === 'failed' || state === 'upstream_failed';
}

/** A task's outcome from the states its task instances ended in (a mapped task has several). */
export function taskOutcomeOf(states: readonly string[]): 'passed' | 'failed' | 'skipped' {
  if (states.length && states.every((state) => state === 'success')) return 'passed';
  return states.some(isFailedState) ? 'failed' : 'skipped';
}

/** A state as a word: `upstream failed`. */
export function stateWords(state: string): string {
  return state.replaceAll('_', ' ');
}

/** `3 success, 1 failed`: how many task instances ended in each state, in the order first seen. */
export function stateCounts(states: Iterable<string>, separator = ', '): string {
  const counts = new Map<string, number>();
  for (const state of states) counts.set(state, (counts.get(state) ?? 0) + 1);
  return [...counts].map(([state, n]) => `${n} ${stateWords(state)}`).join(separator);
}
