/** What the graph draws of a DAG's runs: kept while they are true of the code, cleared by a parse that came after. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RunStates } from '../../src/core/project/runStates';

function statesWithClock() {
  let now = 1_000;
  const states = new RunStates(() => now);
  const fired: string[] = [];
  states.onDidChange((key) => fired.push(key));
  return { states, fired, tick: (ms = 10) => (now += ms) };
}

const states = (runStates: RunStates, dagId = 'etl') => Object.fromEntries([...runStates.of('/ws/dags/etl.py', dagId)].map(([id, e]) => [id, e.state]));

describe('run states of a DAG', () => {
  it('a parse that began after the run ended clears its states (the failed task may be fixed now), and says so', () => {
    const { states: runs, fired, tick } = statesWithClock();
    runs.beginDagRun('/ws/dags/etl.py', 'etl', ['extract', 'load']);
    tick();
    runs.set('/ws/dags/etl.py', 'etl', 'extract', 'success', 90);
    runs.set('/ws/dags/etl.py', 'etl', 'load', 'failed', 40);
    runs.set('/ws/dags/other.py', 'other', 'x', 'failed', 40);
    const parseStarted = tick();
    fired.length = 0;
    runs.parsed('/ws/dags/etl.py', parseStarted);
    assert.deepEqual(states(runs), {});
    assert.deepEqual(fired, ['/ws/dags/etl.py::etl']);
    assert.equal(runs.of('/ws/dags/other.py', 'other').get('x')?.state, 'failed', 'another file keeps its states');
  });

  it('a parse that began before the run ended keeps its states: they are newer than its result', () => {
    const { states: runs, tick } = statesWithClock();
    const parseStarted = tick();
    tick();
    runs.set('/ws/dags/etl.py', 'etl', 'load', 'failed', 40);
    runs.parsed('/ws/dags/etl.py', parseStarted);
    assert.deepEqual(states(runs), { load: 'failed' });
  });

  it('a DAG that is still running keeps its states whatever is parsed meanwhile', () => {
    const { states: runs, tick } = statesWithClock();
    runs.beginDagRun('/ws/dags/etl.py', 'etl', ['extract', 'load']);
    runs.set('/ws/dags/etl.py', 'etl', 'extract', 'running');
    runs.parsed('/ws/dags/etl.py', tick());
    assert.deepEqual(states(runs), { extract: 'running', load: 'queued' });
  });
});
