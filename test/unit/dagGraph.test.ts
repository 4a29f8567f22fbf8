/** The graph view's model: what a parse result becomes (groups, mapped tasks, edges), folded groups, and the layout. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DagInfo, TaskInfo } from '../../src/core/harness/parseResult';
import { dagGraphOf, visibleGraph } from '../../src/core/graph/dagGraph';
import { elkInputOf, layoutGraph, nodeWidth } from '../../src/core/graph/layout';
import { durationText, LONGEST_DURATION, NODE_HEIGHT, NODE_ROWS } from '../../src/core/graph/nodeText';

function task(taskId: string, fields: Partial<TaskInfo> = {}): TaskInfo {
  return { taskId, operator: 'PythonOperator', line: 10, upstream: [], downstream: [], taskGroup: null, mapped: false, ...fields };
}

/** fetch -> metrics.count, metrics.inner.longest (mapped over 3) -> publish: edges into, inside and out of nested groups. */
const DAG: DagInfo = {
  dagId: 'customer_metrics', line: 7, schedule: '@hourly', tags: [],
  tasks: [
    task('fetch', { operatorName: '@task', operator: '_PythonDecoratedOperator', downstream: ['metrics.count', 'metrics.inner.longest'] }),
    task('metrics.count', { taskGroup: 'metrics', upstream: ['fetch'], downstream: ['publish'] }),
    task('metrics.inner.longest', { taskGroup: 'metrics.inner', mapped: true, mapCount: 3, upstream: ['fetch'], downstream: ['publish'] }),
    task('publish', { operator: 'BashOperator', upstream: ['metrics.count', 'metrics.inner.longest'], line: 30 }),
  ],
};

describe('the graph model of a parse result', () => {
  it('tasks keep their ids, are labelled without their group prefix, and say their operator', () => {
    const graph = dagGraphOf(DAG);
    assert.deepEqual(graph.tasks.map((t) => [t.id, t.label, t.operator, t.group]), [
      ['fetch', 'fetch', '@task', null],
      ['metrics.count', 'count', 'PythonOperator', 'metrics'],
      ['metrics.inner.longest', 'longest', 'PythonOperator', 'metrics.inner'],
      ['publish', 'publish', 'BashOperator', null],
    ]);
    assert.deepEqual(graph.tasks.find((t) => t.mapped), { ...graph.tasks[2], mapped: true, mapCount: 3 });
  });

  it('nested groups come from dotted group ids, each with its parent', () => {
    assert.deepEqual(dagGraphOf(DAG).groups, [
      { id: 'metrics', label: 'metrics', parent: null },
      { id: 'metrics.inner', label: 'inner', parent: 'metrics' },
    ]);
  });

  it('edges go from each task to its downstream tasks, across group borders, once each', () => {
    assert.deepEqual(dagGraphOf(DAG).edges, [
      { from: 'fetch', to: 'metrics.count' },
      { from: 'fetch', to: 'metrics.inner.longest' },
      { from: 'metrics.count', to: 'publish' },
      { from: 'metrics.inner.longest', to: 'publish' },
    ]);
  });

  it('a downstream id the DAG does not have (a partial result) makes no edge', () => {
    const graph = dagGraphOf({ ...DAG, tasks: [task('a', { downstream: ['gone'] })] });
    assert.deepEqual(graph.edges, []);
  });
});

describe('folding groups', () => {
  it('with nothing folded, every task is drawn in its innermost group and every group is a frame', () => {
    const visible = visibleGraph(dagGraphOf(DAG), new Set());
    assert.deepEqual(visible.nodes.map((n) => n.id), ['fetch', 'metrics.count', 'metrics.inner.longest', 'publish']);
    assert.deepEqual(visible.frames.map((f) => f.id), ['metrics', 'metrics.inner']);
    assert.equal(visible.parentOf.get('metrics.inner.longest'), 'metrics.inner');
    assert.equal(visible.edges.length, 4);
  });

  it('a folded group is one node for all its tasks (nested ones too); edges meet it once and none stay inside', () => {
    const visible = visibleGraph(dagGraphOf(DAG), new Set(['metrics']));
    assert.deepEqual(visible.nodes.map((n) => (n.kind === 'group' ? `${n.id} (${n.taskIds.length})` : n.id)), ['fetch', 'metrics (2)', 'publish']);
    assert.deepEqual(visible.frames, []);
    assert.deepEqual(visible.edges, [{ from: 'fetch', to: 'metrics' }, { from: 'metrics', to: 'publish' }]);
  });

  it('folding an inner group keeps the outer frame around it', () => {
    const visible = visibleGraph(dagGraphOf(DAG), new Set(['metrics.inner']));
    assert.deepEqual(visible.frames.map((f) => f.id), ['metrics']);
    assert.equal(visible.parentOf.get('metrics.inner'), 'metrics');
    assert.deepEqual(visible.edges, [
      { from: 'fetch', to: 'metrics.count' }, { from: 'fetch', to: 'metrics.inner' },
      { from: 'metrics.count', to: 'publish' }, { from: 'metrics.inner', to: 'publish' },
    ]);
  });
});

describe('the layout', () => {
  it('the layout input nests nodes in their open groups, left to right, with edges across groups', () => {
    const input = elkInputOf(visibleGraph(dagGraphOf(DAG), new Set()));
    assert.equal(input.layoutOptions?.['elk.direction'], 'RIGHT');
    assert.equal(input.layoutOptions?.['elk.hierarchyHandling'], 'INCLUDE_CHILDREN');
    const ids = (node: typeof input): unknown => (node.children?.length ? { [node.id]: node.children.map(ids) } : node.id);
    assert.deepEqual(input.children?.map(ids), [{ metrics: [{ 'metrics.inner': ['metrics.inner.longest'] }, 'metrics.count'] }, 'fetch', 'publish']);
    assert.deepEqual(input.edges?.map((e) => [e.sources[0], e.targets[0]]), [['fetch', 'metrics.count'], ['fetch', 'metrics.inner.longest'], ['metrics.count', 'publish'], ['metrics.inner.longest', 'publish']]);
    const mapped = input.children![0].children![0].children![0];
    assert.ok(mapped.width! >= 120 && mapped.height === NODE_HEIGHT, 'a node is wide enough for its label');
  });

  it("a task's duration has a line of its own, under its operator, so a long operator name never runs into it", () => {
    const rows = [NODE_ROWS.label, NODE_ROWS.operator, NODE_ROWS.duration];
    // baselines at least a line of the view's font (13 px, smaller for operator and duration) apart, the last one's
    // descenders inside the node
    for (let n = 1; n < rows.length; n++) assert.ok(rows[n] - rows[n - 1] >= 14, `line ${n + 1} is a line below line ${n}`);
    assert.ok(NODE_ROWS.duration + 5 <= NODE_HEIGHT, 'the duration line is inside the node');
    const input = elkInputOf(visibleGraph(dagGraphOf(DAG), new Set()));
    const publish = input.children!.find((node) => node.id === 'publish')!;
    assert.equal(publish.height, NODE_HEIGHT);
    assert.ok(publish.width! >= nodeWidth([LONGEST_DURATION, 'BashOperator']), 'wide enough for its operator and the longest duration');
    assert.deepEqual([91, 4_250, 185_000].map(durationText), ['91 ms', '4.3 s', '3 min 5 s']);
    assert.ok(durationText(3_599_000).length <= LONGEST_DURATION.length);
  });

  it('elkjs places upstream tasks left of downstream ones, tasks inside their group frames, and routes every edge', async () => {
    const layout = await layoutGraph(visibleGraph(dagGraphOf(DAG), new Set()));
    const box = (id: string) => layout.nodes.find((n) => n.id === id) ?? layout.frames.find((f) => f.id === id)!;
    for (const edge of dagGraphOf(DAG).edges) assert.ok(box(edge.from).x + box(edge.from).width <= box(edge.to).x, `${edge.from} is left of ${edge.to}`);
    const inside = (inner: string, outer: string) => {
      const a = box(inner);
      const b = box(outer);
      return a.x >= b.x && a.y >= b.y && a.x + a.width <= b.x + b.width && a.y + a.height <= b.y + b.height;
    };
    assert.ok(inside('metrics.count', 'metrics') && inside('metrics.inner', 'metrics') && inside('metrics.inner.longest', 'metrics.inner'));
    assert.ok(!inside('fetch', 'metrics') && !inside('publish', 'metrics'));
    assert.equal(layout.edges.length, 4);
    for (const edge of layout.edges) {
      const end = edge.points[edge.points.length - 1];
      assert.ok(Math.abs(end.x - box(edge.to).x) < 1, `${edge.from}->${edge.to} ends at its target's left side`);
    }
    assert.ok(layout.width >= box('publish').x + box('publish').width);
  });
});
