import * as path from 'node:path';
import { cacheDir } from '../engine/cache';
import { EngineError } from '../engine/errors';
import { hostEnvironment } from '../engine/local/hostEnvironment';
import { runProcess } from '../engine/processTree';
import type { WorkOptions } from '../engine/types';
import { ensureWheel, type PinnedWheel } from '../engine/wheels';

/**
 * ruff, for its Airflow rules (`AIR3xx`: what Airflow 3 removed, moved to providers or renamed): its PyPI wheel (a
 * static binary per platform), pinned and hash-checked like uv, fetched into our cache on first use. It reads the
 * DAG files as text and never runs them, so it runs on the host, outside any runtime.
 */
export const RUFF: PinnedWheel = {
  name: 'ruff',
  version: '0.17.5',
  marker: path.join('ruff-0.17.5.data', 'scripts', 'ruff'),
  files: {
    'linux-x64': { file: 'ruff-0.17.5-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl', sha256: '40ca8afaac309b41a5b2e09e4e7beb1f824826b93c25697c4d74f573324fba4e', pipPlatform: 'manylinux_2_17_x86_64' },
    'linux-arm64': { file: 'ruff-0.17.5-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.whl', sha256: '6f6a7b138edf9cc402ca736a59d9525e6d766e5395760b72e7e146e6251ac963', pipPlatform: 'manylinux_2_17_aarch64' },
    'darwin-arm64': { file: 'ruff-0.17.5-py3-none-macosx_11_0_arm64.whl', sha256: '6f0db748508f04a04e3fbebcc636a5c8b3bd76274f8ed28f497c44d75c2ea2d7', pipPlatform: 'macosx_11_0_arm64' },
    'darwin-x64': { file: 'ruff-0.17.5-py3-none-macosx_10_12_x86_64.whl', sha256: 'b72fbc232e328bdbb9cdddf4f1aedcd61bd1aa64d75fc012114b4add0bd7f26b', pipPlatform: 'macosx_10_12_x86_64' },
  },
};

/** Our ruff binary: downloaded from PyPI once, checked against its pinned hash (wheels.ts). */
export async function ensureRuff(options: WorkOptions = {}): Promise<string> {
  const folder = await ensureWheel(RUFF, cacheDir(`ruff-${RUFF.version}`), options);
  return path.join(folder, RUFF.marker);
}

/** The rules that speak of a move to `major`: Airflow 3's removals, provider moves and renames; none for Airflow 2. */
export function airflowRulesFor(major: number): string[] {
  return major >= 3 ? ['AIR301', 'AIR302', 'AIR303', 'AIR311', 'AIR312'] : [];
}

/** One edit of a fix, in ruff's 1-based rows and columns; `end` is exclusive. */
export interface RuffEdit {
  content: string;
  start: { line: number; column: number };
  end: { line: number; column: number };
}

/** A finding of ruff's, at its place, with the fix ruff offers (safe fixes are what `--fix` applies). */
export interface StaticFinding {
  file: string;
  rule: string;
  message: string;
  start: { line: number; column: number };
  end: { line: number; column: number };
  fix?: { message: string; applicability: 'safe' | 'unsafe' | 'display-only'; edits: RuffEdit[] };
  url?: string;
}

interface RuffLocation { row: number; column: number }
interface RuffMessage {
  code: string | null;
  filename: string;
  message: string;
  location: RuffLocation;
  end_location: RuffLocation;
  url?: string | null;
  fix?: { applicability: string; message: string | null; edits: { content: string; location: RuffLocation; end_location: RuffLocation }[] } | null;
}

/** ruff's `--output-format json` as our findings; anything else in it (a syntax error has no code) is left out. */
export function readRuffOutput(json: string): StaticFinding[] {
  const messages = JSON.parse(json) as RuffMessage[];
  if (!Array.isArray(messages)) throw new Error('ruff printed no list of findings');
  const at = (l: RuffLocation) => ({ line: l.row, column: l.column });
  return messages.filter((m) => m.code).map((m) => ({
    file: m.filename, rule: m.code!, message: m.message, start: at(m.location), end: at(m.end_location),
    ...(m.url ? { url: m.url } : {}),
    ...(m.fix ? {
      fix: {
        message: m.fix.message ?? m.message,
        applicability: (['safe', 'unsafe'].includes(m.fix.applicability) ? m.fix.applicability : 'display-only') as 'safe' | 'unsafe' | 'display-only',
        edits: m.fix.edits.map((e) => ({ content: e.content, start: at(e.location), end: at(e.end_location) })),
      },
    } : {}),
  }));
}

/**
 * ruff's findings for `rules` in `files` (no configuration of the project's, no cache written); with `fix`, its safe
 * fixes are written into the files first and the findings are what is left. Never run without `fix` set by a person.
 */
export async function runRuff(ruff: string, files: readonly string[], rules: readonly string[], options: { fix?: boolean; signal?: AbortSignal } = {}): Promise<StaticFinding[]> {
  if (files.length === 0 || rules.length === 0) return [];
  const args = ['check', '--isolated', '--no-cache', '--exit-zero', '--output-format', 'json', '--select', rules.join(','), ...(options.fix ? ['--fix'] : []), '--', ...files];
  let stdout = '';
  const outcome = await runProcess(ruff, args, { env: hostEnvironment('harness'), deadlineMs: 5 * 60_000, signal: options.signal, keep: 4096, onLine: (line, stream) => { if (stream === 'stdout') stdout += `${line}\n`; } });
  if (outcome.code !== 0) throw new EngineError('harness-failed', `ruff ${RUFF.version} failed (exit ${outcome.code}): ${outcome.tail.trim().split('\n').slice(-2).join(' ')}`);
  try {
    return readRuffOutput(stdout);
  } catch (error) {
    throw new EngineError('harness-failed', `ruff ${RUFF.version} printed what we cannot read: ${(error as Error).message}`);
  }
}

/**
 * `text` with ruff's edits made (their rows and columns count characters from 1); edits that overlap an earlier
 * one are left out, as ruff itself leaves them for a later pass.
 */
export function applyEdits(text: string, edits: readonly RuffEdit[]): string {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const offsetOf = (p: { line: number; column: number }) => {
    if (p.line > lineStarts.length) return text.length;
    const start = lineStarts[p.line - 1];
    let offset = start;
    // columns count code points: step over surrogate pairs as one
    for (let c = 1; c < p.column && offset < text.length && text[offset] !== '\n'; c++) offset += text.codePointAt(offset)! > 0xffff ? 2 : 1;
    return offset;
  };
  const ranges = edits.map((e) => ({ from: offsetOf(e.start), to: offsetOf(e.end), content: e.content })).sort((a, b) => a.from - b.from || a.to - b.to);
  const kept: typeof ranges = [];
  for (const range of ranges) if (!kept.length || range.from >= kept[kept.length - 1].to) kept.push(range);
  let out = text;
  for (const range of kept.reverse()) out = out.slice(0, range.from) + range.content + out.slice(range.to);
  return out;
}
