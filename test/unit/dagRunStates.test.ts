/** A whole-DAG run's states folded the one way the editor, the CLI and the assistants' tools say them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFailedState, stateCounts, taskInstanceName, taskOutcomeOf } from '../../src/core/project/dagRunStates';
import { dagKey, dagRunKey, taskKey } from '../../src/core/project/itemKeys';

describe('a whole-DAG run\'s states', () => {
  it('a task passes only when every instance succeeded; a failed or upstream-failed one fails it; else it was skipped', () => {
    assert.equal(taskOutcomeOf(['success', 'success']), 'passed');
    assert.equal(taskOutcomeOf(['success', 'failed']), 'failed');
    assert.equal(taskOutcomeOf(['upstream_failed']), 'failed');
    assert.equal(taskOutcomeOf(['success', 'skipped']), 'skipped');
    assert.equal(taskOutcomeOf([]), 'skipped', 'a task the run never told of did not run');
  });

  it('names a mapped instance by its index, and counts the states in the order first seen', () => {
    assert.equal(taskInstanceName('load', -1), 'load');
    assert.equal(taskInstanceName('load', 2), 'load[2]');
    assert.equal(stateCounts(['success', 'upstream_failed', 'success']), '2 success, 1 upstream failed');
    assert.equal(stateCounts([], ' · '), '');
    assert.deepEqual(['failed', 'upstream_failed', 'success', 'skipped'].map(isFailedState), [true, true, false, false]);
  });

  it('keys: no task id can make a whole-DAG run\'s key', () => {
    assert.equal(taskKey('/w/a.py', 'd', 't'), '/w/a.py::d::t');
    assert.equal(dagRunKey('/w/a.py', 'd'), '/w/a.py::d::(whole DAG)');
    assert.ok(dagRunKey('/w/a.py', 'd').startsWith(`${dagKey('/w/a.py', 'd')}::`));
  });
});
