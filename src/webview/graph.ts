/**
 * The DAG graph webview: draws the laid-out graph the extension sends as SVG, in the theme's colours, and
 * asks the extension for everything else (open a line, run or debug a task, fold a group). Zoom and pan are
 * the view's own and survive redraws and reloads (webview state).
 */
import type { DagGraph, GraphTask } from '../core/graph/dagGraph';
import type { GraphLayout } from '../core/graph/layout';
import { durationText, foldedGroupLines, NODE_ROWS, NODE_TEXT_X, taskLines } from '../core/graph/nodeText';
import type { FromGraphView, GraphNodeContext, ToGraphView } from '../core/graph/protocol';
import { stateCounts } from '../core/project/dagRunStates';
import type { TaskStateEntry } from '../core/project/runStates';

interface VsCodeApi {
  postMessage(message: FromGraphView): void;
  getState(): ViewState | undefined;
  setState(state: ViewState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

interface ViewState {
  scale: number;
  x: number;
  y: number;
  /** Whether the person moved or zoomed: until then, every drawing is fitted to the window. */
  moved: boolean;
}

const SVG = 'http://www.w3.org/2000/svg';
const vscode = acquireVsCodeApi();
const view: ViewState = vscode.getState() ?? { scale: 1, x: 0, y: 0, moved: false };
const svg = document.getElementById('graph') as unknown as SVGSVGElement;
const scene = document.getElementById('scene') as unknown as SVGGElement;
const notice = document.getElementById('notice')!;
const title = document.getElementById('title')!;
const summary = document.getElementById('summary')!;
let drawn: Extract<ToGraphView, { type: 'graph' }> | undefined;
let states: Record<string, TaskStateEntry> = {};
let ticker: number | undefined;

function el<K extends keyof SVGElementTagNameMap>(name: K, attributes: Record<string, string | number>, parent: Element): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  parent.appendChild(node);
  return node;
}

function text(parent: Element, x: number, y: number, content: string, className: string): SVGTextElement {
  const node = el('text', { x, y, class: className }, parent);
  node.textContent = content;
  return node;
}

function applyView(): void {
  scene.setAttribute('transform', `translate(${view.x} ${view.y}) scale(${view.scale})`);
  vscode.setState(view);
}

function fit(layout: GraphLayout): void {
  const box = svg.getBoundingClientRect();
  const margin = 24;
  const scale = Math.min(1.5, (box.width - 2 * margin) / Math.max(1, layout.width), (box.height - 2 * margin) / Math.max(1, layout.height));
  view.scale = Math.max(0.2, scale);
  view.x = (box.width - layout.width * view.scale) / 2;
  view.y = Math.max(margin, (box.height - layout.height * view.scale) / 2);
  view.moved = false;
  applyView();
}

function duration(entry: TaskStateEntry | undefined): string {
  if (!entry) return '';
  const ms = entry.state === 'running' && entry.startedAt ? Date.now() - entry.startedAt : entry.durationMs;
  return ms === undefined ? '' : durationText(ms);
}

function draw(message: Extract<ToGraphView, { type: 'graph' }>): void {
  drawn = message;
  notice.hidden = true;
  title.textContent = message.dagId;
  title.title = message.stale ? 'The file changed since this graph was drawn: it is redrawn after the next parse.' : '';
  title.classList.toggle('stale', message.stale);
  const { graph, layout } = message;
  scene.replaceChildren();
  const tasks = new Map(graph.tasks.map((task) => [task.id, task]));
  const groups = new Map(graph.groups.map((group) => [group.id, group]));
  for (const frame of layout.frames) {
    const group = el('g', { class: 'frame', 'data-group': frame.id }, scene);
    el('rect', { x: frame.x, y: frame.y, width: frame.width, height: frame.height, rx: 6 }, group);
    const header = el('g', { class: 'toggle', role: 'button', tabindex: 0 }, group);
    header.addEventListener('click', () => vscode.postMessage({ type: 'toggle', groupId: frame.id }));
    text(header, frame.x + 10, frame.y + 18, `▾ ${groups.get(frame.id)?.label ?? frame.id}`, 'frame-label');
  }
  const edges = el('g', { class: 'edges' }, scene);
  for (const edge of layout.edges) {
    el('path', { d: edge.points.map((p, n) => `${n ? 'L' : 'M'}${p.x} ${p.y}`).join(' '), 'marker-end': 'url(#arrow)', 'data-edge': `${edge.from}>${edge.to}` }, edges);
  }
  for (const box of layout.nodes) {
    const task = tasks.get(box.id);
    if (task) drawTask(task, box, message);
    else drawFoldedGroup(box, graph, message.folded[box.id] ?? []);
  }
  if (!view.moved) fit(layout);
  else applyView();
  paintStates();
}

function drawTask(task: GraphTask, box: GraphLayout['nodes'][number], message: Extract<ToGraphView, { type: 'graph' }>): void {
  const context: GraphNodeContext & { preventDefaultContextMenuItems: true } = { webviewSection: 'task', file: message.file, dagId: message.dagId, taskId: task.id, preventDefaultContextMenuItems: true };
  const node = el('g', { class: 'node task', 'data-task': task.id, 'data-vscode-context': JSON.stringify(context), role: 'button', tabindex: 0 }, scene);
  if (task.mapped) el('rect', { x: box.x + 4, y: box.y + 4, width: box.width, height: box.height, rx: 4, class: 'stack' }, node);
  el('rect', { x: box.x, y: box.y, width: box.width, height: box.height, rx: 4, class: 'box' }, node);
  el('rect', { x: box.x, y: box.y, width: 5, height: box.height, rx: 2, class: 'state-bar' }, node);
  const [label, operator] = taskLines(task);
  text(node, box.x + NODE_TEXT_X, box.y + NODE_ROWS.label, label, 'label');
  text(node, box.x + NODE_TEXT_X, box.y + NODE_ROWS.operator, operator, 'operator');
  text(node, box.x + NODE_TEXT_X, box.y + NODE_ROWS.duration, '', 'duration');
  const tip = el('title', {}, node);
  tip.textContent = `${task.id}\n${task.operator}${task.mapped ? `, mapped${task.mapCount ? ` over ${task.mapCount}` : ''}` : ''}\nclick: open its line; right-click: run or debug`;
  node.addEventListener('click', () => vscode.postMessage({ type: 'open', taskId: task.id }));
  node.addEventListener('keydown', (event) => { if (event.key === 'Enter') vscode.postMessage({ type: 'open', taskId: task.id }); });
}

function drawFoldedGroup(box: GraphLayout['nodes'][number], graph: DagGraph, taskIds: string[]): void {
  const [label, count] = foldedGroupLines(graph.groups.find((group) => group.id === box.id)?.label ?? box.id, taskIds.length);
  const node = el('g', { class: 'node folded', 'data-group': box.id, role: 'button', tabindex: 0 }, scene);
  el('rect', { x: box.x, y: box.y, width: box.width, height: box.height, rx: 6, class: 'box' }, node);
  el('rect', { x: box.x, y: box.y, width: 5, height: box.height, rx: 2, class: 'state-bar' }, node);
  text(node, box.x + NODE_TEXT_X, box.y + NODE_ROWS.label, label, 'label');
  text(node, box.x + NODE_TEXT_X, box.y + NODE_ROWS.operator, count, 'operator');
  el('title', {}, node).textContent = `task group ${box.id}: click to unfold`;
  node.addEventListener('click', () => vscode.postMessage({ type: 'toggle', groupId: box.id }));
}

/** The worst state of a folded group's tasks is its own. */
const RANK = ['failed', 'upstream_failed', 'running', 'queued', 'cancelled', 'skipped', 'success'];

function paintStates(): void {
  if (!drawn) return;
  const folded = drawn.folded;
  scene.querySelectorAll<SVGGElement>('g.task').forEach((node) => {
    const entry = states[node.dataset.task!];
    node.setAttribute('class', `node task${entry ? ` state-${entry.state}` : ''}`);
    node.querySelector('.duration')!.textContent = duration(entry);
  });
  scene.querySelectorAll<SVGGElement>('g.folded').forEach((node) => {
    const id = node.dataset.group!;
    const inside = (folded[id] ?? []).map((taskId) => states[taskId]?.state).filter(Boolean);
    const worst = RANK.find((state) => inside.includes(state));
    node.setAttribute('class', `node folded${worst ? ` state-${worst}` : ''}`);
  });
  summary.textContent = stateCounts(Object.values(states).map((entry) => entry.state), ' · ');
}

window.addEventListener('message', (event: MessageEvent<ToGraphView>) => {
  const message = event.data;
  if (message.type === 'graph') draw(message);
  else if (message.type === 'notice') {
    notice.textContent = message.text;
    notice.hidden = false;
    scene.replaceChildren();
    drawn = undefined;
  } else if (message.type === 'states') {
    states = message.states;
    paintStates();
    // a running task's time goes on between messages
    if (message.running && ticker === undefined) ticker = window.setInterval(paintStates, 1000);
    if (!message.running && ticker !== undefined) {
      window.clearInterval(ticker);
      ticker = undefined;
    }
  }
});

// Zoom at the pointer with the wheel, pan by dragging the background.
svg.addEventListener('wheel', (event) => {
  event.preventDefault();
  const box = svg.getBoundingClientRect();
  const factor = Math.exp(-event.deltaY * 0.0015);
  const scale = Math.min(4, Math.max(0.1, view.scale * factor));
  const px = event.clientX - box.left;
  const py = event.clientY - box.top;
  view.x = px - ((px - view.x) * scale) / view.scale;
  view.y = py - ((py - view.y) * scale) / view.scale;
  view.scale = scale;
  view.moved = true;
  applyView();
}, { passive: false });
let dragging: { x: number; y: number } | undefined;
svg.addEventListener('pointerdown', (event) => {
  if ((event.target as Element).closest('.node, .toggle')) return;
  dragging = { x: event.clientX - view.x, y: event.clientY - view.y };
  svg.setPointerCapture(event.pointerId);
});
svg.addEventListener('pointermove', (event) => {
  if (!dragging) return;
  view.x = event.clientX - dragging.x;
  view.y = event.clientY - dragging.y;
  view.moved = true;
  applyView();
});
svg.addEventListener('pointerup', () => { dragging = undefined; });
document.getElementById('fit')!.addEventListener('click', () => drawn && fit(drawn.layout));
document.getElementById('run')!.addEventListener('click', () => vscode.postMessage({ type: 'runDag' }));
window.addEventListener('resize', () => { if (drawn && !view.moved) fit(drawn.layout); });
applyView();
vscode.postMessage({ type: 'ready' });
