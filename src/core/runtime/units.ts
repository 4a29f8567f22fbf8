/** Durations (`30s`, `5m`, `1h`, or seconds) and sizes (`512m`, `2g`, or bytes) as runtime files write them. */

const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i;
const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

const SIZE = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$/i;
const SIZE_UNIT_BYTES: Record<string, number> = {
  b: 1,
  k: 1024, kb: 1024, kib: 1024,
  m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3,
};

/** Milliseconds, or undefined when the value is not a positive duration. A bare number means seconds. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? Math.round(value * 1000) : undefined;
  if (typeof value !== 'string') return undefined;
  const match = DURATION.exec(value);
  if (!match) return undefined;
  const ms = Number(match[1]) * DURATION_UNIT_MS[(match[2] ?? 's').toLowerCase()];
  return ms > 0 ? Math.round(ms) : undefined;
}

/** Bytes, or undefined when the value is not a positive size. A bare number means bytes; units are binary, as Docker's. */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = SIZE.exec(value);
  if (!match) return undefined;
  const bytes = Math.floor(Number(match[1]) * SIZE_UNIT_BYTES[(match[2] ?? 'b').toLowerCase()]);
  return bytes > 0 ? bytes : undefined;
}
