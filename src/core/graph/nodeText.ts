/**
 * What a node of the graph says, line by line, and where: one text for the layout (a node is sized to it) and for
 * the webview (which draws it). No imports: the webview's bundle takes this module as it is.
 */

/**
 * A node's lines, as baselines from its top edge: the task's id, its operator, and, once it ran, its duration on a
 * line of its own (beside the operator, a long operator name and the duration were drawn over each other).
 */
export const NODE_ROWS = { label: 19, operator: 35, duration: 51 } as const;
/** Tall enough for three lines and their descenders. */
export const NODE_HEIGHT = 60;
/** Where every line of a node starts (after the state bar on the left edge). */
export const NODE_TEXT_X = 12;
/** The longest duration a node may have to hold (`durationText` of an hour and a bit). */
export const LONGEST_DURATION = '59 min 59 s';

/** A task: its id without its group's prefix, then its operator, with `[3]` (or `[ ]`) when it is mapped. */
export function taskLines(task: { label: string; operator: string; mapped: boolean; mapCount: number | null }): [string, string] {
  const mapped = task.mapped ? (task.mapCount ? ` [${task.mapCount}]` : ' [ ]') : '';
  return [task.label, `${task.operator}${mapped}`];
}

/** A folded task group: its name, and how many tasks it stands for. */
export function foldedGroupLines(label: string, taskCount: number): [string, string] {
  return [`▸ ${label}`, `task group, ${taskCount} tasks`];
}

/** How long a task ran (or has been running), as its node says it: `91 ms`, `4.2 s`, `3 min 5 s`. */
export function durationText(ms: number): string {
  return ms < 1000 ? `${ms} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}
