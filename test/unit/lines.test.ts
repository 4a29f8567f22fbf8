import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lineSplitter } from '../../src/core/engine/lines';

describe('splitting output into lines', () => {
  it('joins lines cut across chunks and hands on the last one at the end', () => {
    const lines: string[] = [];
    const splitter = lineSplitter((line) => lines.push(line));
    for (const chunk of ['fir', 'st\nsec', 'ond\r\nthird\n', '', 'fourth']) splitter.push(chunk);
    assert.deepEqual(lines, ['first', 'second', 'third']);
    splitter.end();
    assert.deepEqual(lines, ['first', 'second', 'third', 'fourth']);
  });

  it('hands on a line with no end in sight in pieces', () => {
    const lines: string[] = [];
    const splitter = lineSplitter((line) => lines.push(line), 10);
    splitter.push('x'.repeat(25));
    splitter.push('y\n');
    assert.deepEqual(lines, ['x'.repeat(25), 'y']);
  });
});
