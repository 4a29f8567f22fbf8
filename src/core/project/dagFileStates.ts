import type { ParseResult } from '../harness/parseResult';
import type { Problem } from '../problems';
import { Emitter } from './emitter';

/** What the tree shows for a DAG file. */
export type ParseState = 'unparsed' | 'parsing' | 'parsed' | 'import-error' | 'failed' | 'stale';

/** Why a parse did not produce a result: the engine's error code, message and what to do. */
export interface ParseFailure {
  code: string;
  message: string;
  hint?: string;
  /** Where in the user's files it failed (a requirement the runtime's build could not install). */
  problems?: Problem[];
}

export interface DagFileRecord {
  file: string;
  /** When it became known (ms since the epoch): a search that began before cannot have seen it. */
  addedAt: number;
  parsing: boolean;
  /** Changed (the file or its runtime) since the last parse. */
  stale: boolean;
  /** When the last parse started (ms since the epoch): a change older than that is already in its result. */
  startedAt?: number;
  result?: ParseResult;
  failure?: ParseFailure;
}

export function stateOf(record: DagFileRecord | undefined): ParseState {
  if (!record) return 'unparsed';
  if (record.parsing) return 'parsing';
  if (record.failure) return 'failed';
  if (!record.result) return 'unparsed';
  if (record.stale) return 'stale';
  return record.result.importErrors.length || record.result.timedOut ? 'import-error' : 'parsed';
}

/** The DAG files of the workspace and what the last parse of each said. Fires the files that changed. */
export class DagFileStates {
  private readonly records = new Map<string, DagFileRecord>();

  /** `now`: the clock files are stamped with when they become known (tests give their own). */
  constructor(private readonly now: () => number = Date.now) {}
  private readonly changed = new Emitter<string[]>();
  readonly onDidChange = this.changed.event;

  get files(): string[] {
    return [...this.records.keys()].sort();
  }

  get(file: string): DagFileRecord | undefined {
    return this.records.get(file);
  }

  /**
   * Replaces the set of known files with what a search that began at `searchedAt` found: new ones start
   * unparsed, gone ones are forgotten, but not one added after the search began (it could not see it).
   */
  setFiles(files: readonly string[], searchedAt = Number.POSITIVE_INFINITY): void {
    const wanted = new Set(files);
    const changed: string[] = [];
    for (const [file, record] of this.records) if (!wanted.has(file) && record.addedAt < searchedAt) { this.records.delete(file); changed.push(file); }
    for (const file of wanted) if (!this.records.has(file)) { this.records.set(file, { file, addedAt: this.now(), parsing: false, stale: false }); changed.push(file); }
    if (changed.length) this.changed.fire(changed);
  }

  add(file: string): void {
    if (this.records.has(file)) return;
    this.records.set(file, { file, addedAt: this.now(), parsing: false, stale: false });
    this.changed.fire([file]);
  }

  remove(file: string): void {
    if (this.records.delete(file)) this.changed.fire([file]);
  }

  startParsing(file: string): void {
    this.update(file, (record) => {
      record.parsing = true;
      record.startedAt = Date.now();
    });
  }

  finishParsing(file: string, outcome: { result: ParseResult } | { failure: ParseFailure } | { cancelled: true }): void {
    this.update(file, (record) => {
      record.parsing = false;
      if ('result' in outcome) {
        record.result = outcome.result;
        record.failure = undefined;
        record.stale = false;
      } else if ('failure' in outcome) {
        record.failure = outcome.failure;
      }
    });
  }

  /**
   * The files or their runtime changed (at `changedAt`, when known): the last result no longer says how they
   * parse, and an engine failure (a missing image) was about the runtime they had.
   */
  markStale(files: readonly string[], changedAt?: number): void {
    const changed = files.filter((file) => {
      const record = this.records.get(file);
      if (!record || (!record.result && !record.failure) || (record.stale && !record.failure)) return false;
      if (changedAt !== undefined && record.startedAt !== undefined && changedAt <= record.startedAt) return false;
      record.stale = true;
      record.failure = undefined;
      return true;
    });
    if (changed.length) this.changed.fire(changed);
  }

  dispose(): void {
    this.changed.dispose();
  }

  private update(file: string, change: (record: DagFileRecord) => void): void {
    const record = this.records.get(file);
    if (!record) return;
    change(record);
    this.changed.fire([file]);
  }
}
