import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cacheDir } from './cache';
import { EngineError } from './errors';

/** The harness's variable for the template hashes it must find in a read-only cache (env.py CHECKED_TEMPLATES). */
export const CHECKED_TEMPLATES = 'AIRFLOW_RUNTIME_TEMPLATE_HASHES';

/** The template DBs of a runtime cache, by path in the runtime, with their sha256. */
export type TemplateHashes = Record<string, string>;

/**
 * The runtime cache is read-only wherever DAG code runs; its template database is made by our own step
 * (`prepare-cache`, no DAG code) and the harness checks it against the hash kept here, outside any container
 * or sandbox (a file per runtime under our cache folder). One instance per engine; `key` names a runtime (an
 * image, an interpreter), `scope` what else tells runtimes apart in the record (a Docker endpoint).
 */
export class CheckedTemplates {
  private readonly known = new Map<string, Promise<TemplateHashes>>();
  private readonly settled = new Map<string, TemplateHashes>();
  private readonly resetting = new Set<Promise<TemplateHashes>>();

  constructor(private readonly kind: 'docker' | 'local', private readonly scope = '') {}

  /** The hashes the harness must find, for the runtime's environment: empty until `around` has run for `key`. */
  current(key: string): TemplateHashes {
    return this.settled.get(key) ?? {};
  }

  /**
   * Runs `work` with the hashes of `key` known (recorded, or made by `make`). A template the harness finds
   * missing or changed (a pruned volume, a new Airflow, a file changed behind our back) is made again, once, and
   * `work` retried.
   */
  async around<T>(key: string, make: () => Promise<TemplateHashes>, work: () => Promise<T>): Promise<T> {
    await this.hashes(key, make, false);
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof EngineError) || error.code !== 'cache-unprepared') throw error;
      await this.hashes(key, make, true);
      return work();
    }
  }

  private hashes(key: string, make: () => Promise<TemplateHashes>, reset: boolean): Promise<TemplateHashes> {
    const known = this.known.get(key);
    // a reset already under way for it (two parses failed at once) is joined, not repeated
    if (known && (!reset || this.resetting.has(known))) return known;
    const record = cacheDir(`${this.kind}-templates`, `${createHash('sha256').update(`${this.scope}\0${key}`).digest('hex').slice(0, 16)}.json`);
    const made = (async () => {
      if (!reset) {
        try {
          return JSON.parse(readFileSync(record, 'utf8')) as TemplateHashes;
        } catch {
          // not recorded yet: make it
        }
      }
      const hashes = await make();
      mkdirSync(path.dirname(record), { recursive: true });
      writeFileSync(`${record}.${process.pid}`, JSON.stringify(hashes));
      renameSync(`${record}.${process.pid}`, record);
      return hashes;
    })();
    this.known.set(key, made);
    if (reset) {
      this.resetting.add(made);
      void made.finally(() => this.resetting.delete(made)).catch(() => undefined);
    }
    made.then((hashes) => this.settled.set(key, hashes), () => this.known.get(key) === made && this.known.delete(key));
    return made;
  }
}
