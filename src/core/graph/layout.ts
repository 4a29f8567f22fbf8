import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api';
import type { GraphEdge, VisibleGraph } from './dagGraph';
import { foldedGroupLines, LONGEST_DURATION, NODE_HEIGHT, taskLines } from './nodeText';

export { NODE_HEIGHT };
/** Sizes of what the view draws, in CSS pixels: a node's width follows its longest line. */
const CHAR_WIDTH = 7.2;
const NODE_PADDING = 28;
const MIN_NODE_WIDTH = 120;
const GROUP_HEADER = 28;

/** A laid-out graph, every coordinate absolute (the webview only draws it). */
export interface GraphLayout {
  width: number;
  height: number;
  nodes: Array<{ id: string; x: number; y: number; width: number; height: number }>;
  frames: Array<{ id: string; x: number; y: number; width: number; height: number }>;
  edges: Array<GraphEdge & { points: Array<{ x: number; y: number }> }>;
}

/** What a node's box must hold: its label, its operator line and (tasks) the duration of a run. */
export function nodeWidth(lines: string[]): number {
  return Math.max(MIN_NODE_WIDTH, Math.ceil(Math.max(...lines.map((line) => line.length)) * CHAR_WIDTH + NODE_PADDING));
}

/**
 * The layout library's input: open groups as compound nodes holding what is drawn in them, left to right, edges
 * laid out across group borders (INCLUDE_CHILDREN), every coordinate of the answer absolute.
 */
export function elkInputOf(graph: VisibleGraph): ElkNode {
  const elkNodes = new Map<string, ElkNode>();
  for (const frame of graph.frames) {
    elkNodes.set(frame.id, {
      id: frame.id,
      width: nodeWidth([frame.label]),
      layoutOptions: { 'elk.padding': `[top=${GROUP_HEADER},left=12,bottom=12,right=12]` },
      children: [],
    });
  }
  for (const node of graph.nodes) {
    const lines = node.kind === 'task' ? [...taskLines(node.task), LONGEST_DURATION] : foldedGroupLines(node.group.label, node.taskIds.length);
    elkNodes.set(node.id, { id: node.id, width: nodeWidth(lines), height: NODE_HEIGHT });
  }
  const root: ElkNode = {
    id: '\u0000root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.layered.spacing.nodeNodeBetweenLayers': '48',
      'elk.spacing.nodeNode': '20',
      'elk.json.shapeCoords': 'ROOT',
      'elk.json.edgeCoords': 'ROOT',
    },
    children: [],
  };
  const parentOf = new Map([...graph.parentOf, ...graph.frames.map((frame) => [frame.id, frame.parent] as const)]);
  for (const [id, node] of elkNodes) {
    const parent = parentOf.get(id);
    (parent && elkNodes.get(parent) ? elkNodes.get(parent)! : root).children!.push(node);
  }
  root.edges = graph.edges.map((edge, n): ElkExtendedEdge => ({ id: `e${n}`, sources: [edge.from], targets: [edge.to] }));
  return root;
}

/** Lays the graph out with elkjs (loaded on first use: the extension activates without it). */
export async function layoutGraph(graph: VisibleGraph): Promise<GraphLayout> {
  const { default: ELK } = await import('elkjs/lib/elk.bundled.js');
  const laid = await new ELK().layout(elkInputOf(graph));
  const frameIds = new Set(graph.frames.map((frame) => frame.id));
  const layout: GraphLayout = { width: laid.width ?? 0, height: laid.height ?? 0, nodes: [], frames: [], edges: [] };
  const laidEdges: ElkExtendedEdge[] = [];
  const visit = (node: ElkNode) => {
    laidEdges.push(...((node.edges ?? []) as ElkExtendedEdge[]));
    for (const child of node.children ?? []) {
      const box = { id: child.id, x: child.x ?? 0, y: child.y ?? 0, width: child.width ?? 0, height: child.height ?? 0 };
      (frameIds.has(child.id) ? layout.frames : layout.nodes).push(box);
      visit(child);
    }
  };
  visit(laid);
  const edges = new Map(graph.edges.map((edge, n) => [`e${n}`, edge]));
  for (const edge of laidEdges) {
    const section = edge.sections?.[0];
    if (!section) continue;
    layout.edges.push({ ...edges.get(edge.id)!, points: [section.startPoint, ...(section.bendPoints ?? []), section.endPoint] });
  }
  return layout;
}
