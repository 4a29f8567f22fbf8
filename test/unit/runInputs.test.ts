/** What a person gives a run (the editor's prompts, the CLI's flags): a DAG run's conf. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dagRunConfProblem } from '../../src/core/engine/runInputs';

describe("a DAG run's conf", () => {
  it('is a JSON object', () => {
    assert.equal(dagRunConfProblem('{}'), undefined);
    assert.equal(dagRunConfProblem('{"region": "eu", "n": [1, 2]}'), undefined);
  });

  it('text that is not JSON, or JSON that is not an object, says what is wrong', () => {
    assert.match(dagRunConfProblem('{region: eu}')!, /^the conf is not JSON: /);
    for (const text of ['[1]', '"eu"', 'null', '3']) assert.equal(dagRunConfProblem(text), 'the conf must be a JSON object, such as {"region": "emea"}', text);
  });
});
