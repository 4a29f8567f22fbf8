import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration, parseSize } from '../../src/core/runtime/units';

describe('durations', () => {
  const cases: [unknown, number | undefined][] = [
    ['30s', 30_000], ['5m', 300_000], ['1h', 3_600_000], ['1.5m', 90_000], ['250ms', 250], ['45', 45_000], [45, 45_000],
    [' 2M ', 120_000], ['0s', undefined], [0, undefined], [-3, undefined], ['30x', undefined], ['s', undefined],
    ['', undefined], ['1h30m', undefined], [null, undefined], [true, undefined], [Number.NaN, undefined],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} is ${expected === undefined ? 'rejected' : `${expected} ms`}`, () => {
      assert.equal(parseDuration(input), expected);
    });
  }
});

describe('sizes', () => {
  const cases: [unknown, number | undefined][] = [
    ['512m', 512 * 1024 ** 2], ['2g', 2 * 1024 ** 3], ['2G', 2 * 1024 ** 3], ['1.5g', 1.5 * 1024 ** 3], ['64k', 65_536],
    ['100mb', 100 * 1024 ** 2], ['1GiB', 1024 ** 3], ['1048576', 1_048_576], [1_048_576, 1_048_576], ['2q', undefined],
    ['0m', undefined], [0, undefined], [1.5, undefined], ['-1g', undefined], ['', undefined], [undefined, undefined],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} is ${expected === undefined ? 'rejected' : `${expected} bytes`}`, () => {
      assert.equal(parseSize(input), expected);
    });
  }
});
