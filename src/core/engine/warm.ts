import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { EffectiveRuntime } from '../runtime/resolve';
import { EngineError } from './errors';
import { harnessEvent, harnessFailure, withoutEvents } from '../harness/harnessEvents';
import { startTimeout, warmBackstopMs } from './deadlines';
import type { ParseResult } from '../harness/parseResult';
import type { ServeReady, ServeReply, ServeRequest } from '../harness/serveProtocol';

/** How an engine runs its warm runtimes. */
export interface WarmOptions {
  /** One warm runtime per effective runtime (the default of `parse`); else a runtime per file. */
  warm?: boolean;
  /** A warm runtime with nothing to do stops after this long. */
  idleMs?: number;
  /**
   * The warm runtime imports, before it forks, the installed modules the DAG files import (default true). Off:
   * each child imports them itself, as before (`--no-pre-import`, the `airflowRuntime.parse.preImport` setting).
   */
  preImport?: boolean;
}

/** The harness's arguments for a warm runtime with these options. */
export function serveArgs(options: WarmOptions): string[] {
  return ['-m', 'airflow_runtime_harness', 'serve', ...(options.preImport === false ? ['--no-pre-import'] : [])];
}

/** A line-oriented conversation with a harness `serve` process, local or in a container. */
export interface ServeChannel {
  send(line: string): void;
  /** Called with each stdout line; set once. */
  onLine(listener: (line: string) => void): void;
  /** Resolves when the process or container has ended. */
  ended: Promise<void>;
  /** The last output on stderr, for error messages. */
  tail(): string;
  stop(): Promise<void>;
}

/** What a parse asks of a warm server (it goes as a ServeRequest). */
export interface WarmRequest {
  file: string;
  dagsFolder: string;
  /** Where the harness writes the result. Without it the result comes back in the reply: no file to share. */
  out?: string;
  timeoutSeconds: number;
}

interface InFlight {
  resolve: (reply: ServeReply) => void;
  reject: (error: Error) => void;
}

/**
 * A warm harness: Airflow imported once, each parse forked from it. Up to the harness's `concurrency`
 * requests are in flight at once (replies carry their id), the others wait here, so that a request's
 * deadline starts when the harness starts it. A server that misses a deadline or dies is stopped (every
 * request in flight fails) and the next parse starts a new one. After `idleMs` without work it stops itself.
 */
export class WarmServer {
  private nextId = 1;
  private readonly inFlight = new Map<number, InFlight>();
  private readonly waiting: Array<() => void> = [];
  /** Slots taken: requests sent and not yet answered, including those whose caller gave up. */
  private active = 0;
  private concurrency = 1;
  private idleTimer?: NodeJS.Timeout;
  private alive = true;
  private retiring = false;
  /** Requests waiting for the server to be ready: a retired server serves them before it stops. */
  private starting = 0;
  private failure?: EngineError;
  readonly ready: Promise<string>;

  constructor(private readonly channel: ServeChannel, private readonly idleMs: number, private readonly onStop: () => void, startupMs = 180_000, starting = "Airflow's import") {
    let readyResolve!: (version: string) => void;
    let readyReject!: (error: Error) => void;
    this.ready = new Promise((resolve, reject) => { readyResolve = resolve; readyReject = reject; });
    const startupTimer = setTimeout(() => {
      const error = startTimeout(startupMs, starting);
      readyReject(error);
      this.fail(error);
      void this.channel.stop();
    }, startupMs);
    let wasReady = false;
    channel.onLine((line) => {
      let message: ServeReady | ServeReply;
      try {
        message = JSON.parse(line) as ServeReady | ServeReply;
      } catch {
        return; // not ours: the harness keeps stdout for replies, but be lenient
      }
      if (isReady(message)) {
        wasReady = true;
        clearTimeout(startupTimer);
        this.concurrency = Math.max(1, Math.floor(message.concurrency ?? 1));
        readyResolve(message.airflowVersion ?? 'unknown');
      } else if (typeof message.id === 'number') {
        this.inFlight.get(message.id)?.resolve(message);
      }
    });
    channel.ended.then(() => {
      clearTimeout(startupTimer);
      const tail = channel.tail();
      const failure = tail.split('\n').map(harnessEvent).filter((e) => e?.event === 'error').pop();
      // After it was ready, a server that ends was ended by something (a DAG file killing its parent, the
      // machine): the requests in flight are not to blame, and the engines parse them again on their own.
      const error = failure
        ? harnessFailure({ code: 2, failure, tail: '' }, { what: 'the warm harness ended', runtime: 'the runtime' })
        : wasReady
          ? new EngineError('runtime-ended', 'the warm runtime ended while this file was parsed')
          : new EngineError('harness-failed', `the warm harness ended:\n${withoutEvents(tail).trim().slice(-3000)}`, 'parse with --cold to see the error of one file');
      readyReject(error);
      this.fail(error);
    });
    this.ready.catch(() => undefined);
    this.touch();
  }

  get running(): boolean {
    return this.alive;
  }

  /**
   * Parses one file. Resolves with the result when the request has no `out` (the harness sends it back),
   * or with undefined once the result file is written.
   */
  async parse(request: WarmRequest, deadlineMs: number, signal?: AbortSignal): Promise<ParseResult | undefined> {
    // A caller that holds this server is owed an answer even if it is retired while starting.
    this.starting++;
    try {
      await this.ready;
    } finally {
      this.starting--;
    }
    await this.slot(signal);
    return this.send(request, deadlineMs, signal);
  }

  /** Stops once the requests already accepted are answered: its runtime has been superseded. */
  retire(): void {
    this.retiring = true;
    // Not before it is ready: whoever was handed this server while it started gets its answer first.
    void this.ready.then(() => this.pump(), () => undefined);
  }

  async stop(): Promise<void> {
    this.fail(new EngineError('harness-failed', 'the warm harness was stopped'));
    await this.channel.stop();
  }

  /** Takes a slot, at once or when one frees up. */
  private slot(signal?: AbortSignal): Promise<void> {
    const stopped = () => this.failure ?? new EngineError('harness-failed', 'the warm harness has stopped');
    if (!this.alive) return Promise.reject(stopped());
    if (signal?.aborted) return Promise.reject(new EngineError('cancelled', 'cancelled'));
    if (this.active < this.concurrency && this.waiting.length === 0) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const at = this.waiting.indexOf(go);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new EngineError('cancelled', 'cancelled'));
      };
      const go = () => {
        signal?.removeEventListener('abort', onAbort);
        if (!this.alive) return reject(stopped());
        this.active++;
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(go);
    });
  }

  /** A slot freed up: the next waiting request goes; with nothing left to do, idle (or stop when retiring). */
  private pump(): void {
    while (this.waiting.length && (this.active < this.concurrency || !this.alive)) this.waiting.shift()!();
    if (!this.alive || this.active > 0 || this.waiting.length > 0 || this.starting > 0) return;
    if (this.retiring) void this.stop();
    else this.touch();
  }

  private send(request: WarmRequest, deadlineMs: number, signal?: AbortSignal): Promise<ParseResult | undefined> {
    clearTimeout(this.idleTimer);
    const id = this.nextId++;
    const backstopMs = warmBackstopMs(deadlineMs, request.timeoutSeconds);
    return new Promise<ParseResult | undefined>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (!settled) {
          settled = true;
          fn();
        }
      };
      // A caller that gives up is answered at once; its slot stays taken until the harness answers.
      const onAbort = () => settle(() => reject(new EngineError('cancelled', 'cancelled')));
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        // The harness did not answer within its own deadline: it cannot be trusted with the next request.
        settle(() => reject(new EngineError('timeout', `stopped after ${Math.round(deadlineMs / 1000)} s (the runtime's timeout); the warm harness was restarted`, 'raise timeouts.parse in the runtime file, or find what hangs')));
        this.failure ??= new EngineError('harness-failed', `the warm harness was restarted: its parse of ${request.file} did not answer within ${Math.round(deadlineMs / 1000)} s`, 'parse again');
        void this.stop();
      }, backstopMs);
      this.inFlight.set(id, {
        resolve: (reply) => {
          settle(() => {
            if (reply.ok) resolve(reply.result);
            else reject(harnessFailure({ code: 2, failure: { event: 'error', code: reply.code, message: reply.error ?? 'no reason given' }, tail: '' },
              { what: `the warm harness could not parse ${request.file}`, runtime: 'the runtime' }));
          });
          done();
        },
        reject: (error) => {
          settle(() => reject(error));
          done();
        },
      });
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (!this.inFlight.delete(id)) return;
        this.active--;
        this.pump();
      };
      const message: ServeRequest = { id, file: request.file, dagsFolder: request.dagsFolder, timeout: request.timeoutSeconds };
      if (request.out !== undefined) message.out = request.out;
      this.channel.send(JSON.stringify(message));
    });
  }

  /** Marks the server stopped and fails everything in flight or waiting. */
  private fail(error: EngineError): void {
    if (!this.alive) return;
    this.alive = false;
    this.failure ??= error;
    clearTimeout(this.idleTimer);
    for (const request of [...this.inFlight.values()]) request.reject(this.failure);
    this.pump();
    this.onStop();
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.stop(), this.idleMs);
    this.idleTimer.unref?.();
  }
}

/** The first line of a server, not a reply (a harness that sent something else is not taken as ready). */
function isReady(message: ServeReady | ServeReply): message is ServeReady {
  return (message as Partial<ServeReady>).ready === true;
}

/** What a warm server serves, so that a changed runtime retires it. */
export interface WarmScope {
  /** Servers with the same identity serve the same runtime; a new key for it means its runtime changed. */
  identity: string;
  /** The DAG root the server sees (host path). */
  root: string;
  /** The runtime files its runtime was made of (host paths). */
  runtimeFiles: readonly string[];
  /** When its runtime was read (ms since the epoch): a change older than that is already in it. */
  startedAt?: number;
}

/** The scope of a server for a runtime: its DAG root and the chain of runtime files, not their values. */
export function warmScope(runtime: EffectiveRuntime, root: string): WarmScope {
  const runtimeFiles = runtime.files.map((file) => path.resolve(file.path));
  return { identity: JSON.stringify([path.resolve(root), runtimeFiles]), root: path.resolve(root), runtimeFiles };
}

/** Warm servers by key. Promises, so that two parses asking at once start one server, not two. */
export type WarmPool<E extends { server: WarmServer } = { server: WarmServer; outDir: string }> = Map<string, Promise<E>>;

type AnyPool = WarmPool<{ server: WarmServer }>;

/** The scope of each key of each pool. */
const scopes = new WeakMap<AnyPool, Map<string, WarmScope>>();

/**
 * The server for `key`, started once. With a scope, a server of the same identity under another key (the
 * same DAG root and runtime files, with other values: the runtime was edited) is retired.
 */
export async function startOnce<E extends { server: WarmServer }>(pool: WarmPool<E>, key: string, start: () => Promise<E>, scope?: WarmScope): Promise<E> {
  const existing = pool.get(key);
  if (existing) {
    const entry = await existing.catch(() => undefined);
    if (entry?.server.running) return entry;
    if (pool.get(key) === existing) pool.delete(key);
    return startOnce(pool, key, start, scope);
  }
  const known = scopesOf(pool);
  if (scope) {
    for (const [other, otherScope] of known) {
      if (other !== key && otherScope.identity === scope.identity) retire(pool, other);
    }
    known.set(key, { ...scope, startedAt: Date.now() });
  }
  const starting = start();
  pool.set(key, starting);
  starting.catch(() => pool.get(key) === starting && pool.delete(key));
  return starting;
}

/**
 * Retires the servers of `pool` that a changed runtime file may concern. An edit of a file servers were made of
 * retires nothing: servers are keyed by what they run, so the next parse reuses one whose runtime the edit left
 * alone and replaces one it changed (startOnce). A new file (none was made of it) retires the servers whose DAG
 * root shares a folder line with it, a deleted one those made of it; no file named (a setting changed), every
 * one; a server without a scope, by any change. A server whose runtime was read after `changedAt` already has
 * the change (file watchers report late) and is kept. Returns how many were retired.
 */
export function retireServersAfterChange(pool: WarmPool<{ server: WarmServer }>, changedFile?: string, changedAt?: number, exists: (file: string) => boolean = existsSync): number {
  const known = scopesOf(pool);
  const changed = changedFile === undefined ? undefined : path.resolve(changedFile);
  const current = (scope: WarmScope | undefined) => changedAt !== undefined && scope?.startedAt !== undefined && scope.startedAt > changedAt;
  const listed = changed !== undefined && [...pool.keys()].some((key) => known.get(key)?.runtimeFiles.includes(changed));
  const edited = listed && exists(changed);
  let count = 0;
  for (const key of [...pool.keys()]) {
    const scope = known.get(key);
    if (current(scope)) continue;
    const hit = changed === undefined || !scope
      || (listed ? !edited && scope.runtimeFiles.includes(changed) : related(scope.root, path.dirname(changed)));
    if (hit) {
      retire(pool, key);
      count++;
    }
  }
  return count;
}

export async function stopAll(pool: WarmPool<{ server: WarmServer }>): Promise<void> {
  const entries = [...pool.values()];
  pool.clear();
  scopes.delete(pool);
  await Promise.all(entries.map((entry) => entry.then(({ server }) => server.stop(), () => undefined)));
}

function retire(pool: AnyPool, key: string): void {
  const entry = pool.get(key);
  pool.delete(key);
  scopes.get(pool)?.delete(key);
  void entry?.then(({ server }) => server.retire(), () => undefined);
}

function scopesOf(pool: AnyPool): Map<string, WarmScope> {
  let known = scopes.get(pool);
  if (!known) {
    known = new Map();
    scopes.set(pool, known);
  }
  for (const key of known.keys()) if (!pool.has(key)) known.delete(key);
  return known;
}

/** One folder contains the other (or they are the same). */
function related(a: string, b: string): boolean {
  const inside = (child: string, parent: string) => child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);
  return inside(a, b) || inside(b, a);
}
