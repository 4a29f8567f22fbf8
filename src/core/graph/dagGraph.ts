import type { DagInfo } from '../harness/parseResult';
import { operatorLabel } from '../harness/parseResult';

/**
 * A DAG as the graph view draws it, built from the parse result alone: tasks, the task groups that hold them
 * (nested groups by their dotted ids, as Airflow prefixes them), and the edges between tasks.
 */
export interface DagGraph {
  dagId: string;
  tasks: GraphTask[];
  groups: GraphGroup[];
  edges: GraphEdge[];
}

export interface GraphTask {
  /** The task id, as Airflow knows it (with its groups' prefix). */
  id: string;
  /** What the node says: the id without its group's prefix. */
  label: string;
  operator: string;
  mapped: boolean;
  /** How many map indexes, when the parse knows (literal lists). */
  mapCount: number | null;
  /** The innermost group, or null at the DAG's top level. */
  group: string | null;
  file: string | null;
  line: number | null;
}

export interface GraphGroup {
  id: string;
  label: string;
  parent: string | null;
}

export interface GraphEdge {
  from: string;
  to: string;
}

export function dagGraphOf(dag: DagInfo): DagGraph {
  const groups = new Map<string, GraphGroup>();
  const addGroup = (id: string): void => {
    if (groups.has(id)) return;
    // "outer.inner" sits in "outer" (Airflow's prefix_group_id); a dotted id with no such parent stands alone
    const dot = id.lastIndexOf('.');
    const parent = dot > 0 ? id.slice(0, dot) : null;
    if (parent) addGroup(parent);
    groups.set(id, { id, label: parent ? id.slice(dot + 1) : id, parent });
  };
  const tasks = dag.tasks.map((task): GraphTask => {
    if (task.taskGroup) addGroup(task.taskGroup);
    const prefix = task.taskGroup ? `${task.taskGroup}.` : '';
    return {
      id: task.taskId,
      label: prefix && task.taskId.startsWith(prefix) ? task.taskId.slice(prefix.length) : task.taskId,
      operator: operatorLabel(task),
      mapped: task.mapped,
      mapCount: task.mapCount ?? null,
      group: task.taskGroup ?? null,
      file: task.file ?? null,
      line: task.line,
    };
  });
  const known = new Set(tasks.map((task) => task.id));
  const edges: GraphEdge[] = [];
  for (const task of dag.tasks) for (const to of task.downstream) if (known.has(to)) edges.push({ from: task.taskId, to });
  return { dagId: dag.dagId, tasks, groups: [...groups.values()], edges };
}

/** A box the view draws: a task, or a collapsed group standing for every task in it. */
export type VisibleNode =
  | { kind: 'task'; id: string; task: GraphTask }
  | { kind: 'group'; id: string; group: GraphGroup; taskIds: string[] };

/** What is drawn with some groups collapsed: open groups as frames, collapsed ones as single nodes, edges between what is drawn. */
export interface VisibleGraph {
  nodes: VisibleNode[];
  /** The open groups (frames), each with the id of the frame or node that holds it. */
  frames: GraphGroup[];
  /** Where each drawn node sits: the id of its open group, or null. */
  parentOf: Map<string, string | null>;
  edges: GraphEdge[];
}

/**
 * The graph with `collapsed` groups folded: a task inside a collapsed group (at any depth) is drawn as the
 * outermost collapsed group around it; edges follow, without duplicates or edges inside one folded group.
 */
export function visibleGraph(graph: DagGraph, collapsed: ReadonlySet<string>): VisibleGraph {
  const groups = new Map(graph.groups.map((group) => [group.id, group]));
  const chain = (id: string | null): GraphGroup[] => {
    const out: GraphGroup[] = [];
    for (let group = id ? groups.get(id) : undefined; group; group = group.parent ? groups.get(group.parent) : undefined) out.unshift(group);
    return out;
  };
  /** The outermost collapsed group of a chain, if any. */
  const foldOf = (id: string | null) => chain(id).find((group) => collapsed.has(group.id));
  const representative = new Map<string, string>();
  const nodes: VisibleNode[] = [];
  const parentOf = new Map<string, string | null>();
  const folded = new Map<string, VisibleNode & { kind: 'group' }>();
  for (const task of graph.tasks) {
    const fold = foldOf(task.group);
    if (!fold) {
      representative.set(task.id, task.id);
      nodes.push({ kind: 'task', id: task.id, task });
      parentOf.set(task.id, task.group);
      continue;
    }
    representative.set(task.id, fold.id);
    let node = folded.get(fold.id);
    if (!node) {
      node = { kind: 'group', id: fold.id, group: fold, taskIds: [] };
      folded.set(fold.id, node);
      nodes.push(node);
      parentOf.set(fold.id, fold.parent);
    }
    node.taskIds.push(task.id);
  }
  const frames = graph.groups.filter((group) => !collapsed.has(group.id) && !foldOf(group.parent));
  const seen = new Set<string>();
  const edges: GraphEdge[] = [];
  for (const edge of graph.edges) {
    const from = representative.get(edge.from)!;
    const to = representative.get(edge.to)!;
    const key = `${from}\u0000${to}`;
    if (from === to || seen.has(key)) continue;
    seen.add(key);
    edges.push({ from, to });
  }
  return { nodes, frames, parentOf, edges };
}
