import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lineSplitter } from '../../src/core/engine/lineSplitter';

describe('splitting output into lines', () => {
  it('joins lines cut across chunks and hands on the last one at the end', () => {
    const lines: string[] = [];
    const splitter = lineSplitter((line) => lines.push(line));
    for (const chunk of ['fir', 'st\nsec', 'ond\r\nthird\n', '', 'fourth']) splitter.push(chunk);
    assert.deepEqual(lines, ['first', 'second', 'third']);
    splitter.end();
    assert.deepEqual(lines, ['first', 'second', 'third', 'fourth']);
  });

  it('hands on a line with no end in sight in pieces, each keeping back its end for the next', () => {
    const lines: string[] = [];
    const splitter = lineSplitter((line) => lines.push(line), 10);
    splitter.push('x'.repeat(25));
    splitter.push('y\n');
    assert.deepEqual(lines, ['x'.repeat(20), `${'x'.repeat(5)}y`]);
  });

  it('a secret printed across two chunks of an endless line is whole in one piece', () => {
    const secret = 's3cret-token-0123';
    const lines: string[] = [];
    const splitter = lineSplitter((line) => lines.push(line), 64, 32);
    const text = `${'a'.repeat(60)}${secret}${'b'.repeat(100)}`;
    const cut = 60 + 5; // in the middle of the secret
    splitter.push(text.slice(0, cut));
    splitter.push(text.slice(cut));
    splitter.end();
    assert.equal(lines.join(''), text, 'nothing lost, nothing twice');
    assert.ok(lines.some((line) => line.includes(secret)), JSON.stringify(lines));
  });
});
