/**
 * What a node of the graph says, line by line: one text for the layout (a node is sized to it) and for the webview
 * (which draws it). No imports: the webview's bundle takes this module as it is.
 */

/** A task: its id without its group's prefix, then its operator, with `[3]` (or `[ ]`) when it is mapped. */
export function taskLines(task: { label: string; operator: string; mapped: boolean; mapCount: number | null }): [string, string] {
  const mapped = task.mapped ? (task.mapCount ? ` [${task.mapCount}]` : ' [ ]') : '';
  return [task.label, `${task.operator}${mapped}`];
}

/** A folded task group: its name, and how many tasks it stands for. */
export function foldedGroupLines(label: string, taskCount: number): [string, string] {
  return [`▸ ${label}`, `task group, ${taskCount} tasks`];
}
