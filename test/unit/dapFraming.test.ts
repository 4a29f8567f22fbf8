/** The Debug Adapter Protocol's framing, as the editor's proxy and the tests' client read it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dapFrame, DapReader } from '../../src/core/engine/dapFraming';

describe('DAP framing', () => {
  it('reads messages back whatever the chunks: split headers, split bodies, several in one chunk', () => {
    const messages = [{ seq: 1, type: 'request', command: 'initialize' }, { seq: 2, type: 'event', event: 'stopped', body: { text: 'é ünïcode' } }, { seq: 3, type: 'response' }];
    const bytes = Buffer.concat(messages.map(dapFrame));
    for (const size of [1, 3, 17, bytes.length]) {
      const reader = new DapReader();
      const read: unknown[] = [];
      for (let at = 0; at < bytes.length; at += size) read.push(...reader.push(bytes.subarray(at, at + size)));
      assert.deepEqual(read, messages, `chunks of ${size}`);
    }
  });
});
