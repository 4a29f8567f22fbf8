import type { DagGraph } from './dagGraph';
import type { GraphLayout } from './layout';
import type { TaskStateEntry } from '../project/runStates';

/**
 * The messages between the graph webview and the extension: one definition for both sides. The webview draws
 * what it is sent and asks; the extension does everything else (parse, layout, runs).
 */
export type ToGraphView =
  /** A (new) drawing: the model, its layout, and which groups are folded (the view keeps its own zoom). */
  | {
    type: 'graph'; file: string; dagId: string; graph: DagGraph; layout: GraphLayout; collapsed: string[];
    /** The tasks each folded group's node stands for (its count, its worst state). */
    folded: Record<string, string[]>;
    stale: boolean;
  }
  /** The DAG cannot be drawn now (not in the file's last parse, an import error, not parsed yet). */
  | { type: 'notice'; text: string }
  /** The states of the DAG's last run, by task id. */
  | { type: 'states'; states: Record<string, TaskStateEntry>; running: boolean };

export type FromGraphView =
  | { type: 'ready' }
  /** Open the task's line. */
  | { type: 'open'; taskId: string }
  | { type: 'runTask'; taskId: string }
  | { type: 'debugTask'; taskId: string }
  | { type: 'runDag' }
  /** Fold or unfold a task group. */
  | { type: 'toggle'; groupId: string };

/** What a node's right-click menu gets (VS Code's `data-vscode-context`): the commands find the task from it. */
export interface GraphNodeContext {
  webviewSection: 'task';
  file: string;
  dagId: string;
  taskId: string;
}
