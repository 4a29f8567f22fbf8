import { EngineError } from './errors';

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

export interface ServeRequest {
  file: string;
  dagsFolder: string;
  out: string;
  timeoutSeconds: number;
}

interface ServeReply {
  id?: number;
  ok?: boolean;
  ready?: boolean;
  error?: string;
  airflowVersion?: string;
}

/**
 * A warm harness: Airflow imported once, each parse forked from it. Requests go one at a time (the
 * harness answers in order); a server that misses its deadline or dies is stopped, and the next request
 * starts a new one. After `idleMs` without work it stops itself.
 */
export class WarmServer {
  private nextId = 1;
  private queue: Promise<unknown> = Promise.resolve();
  private waiting?: { id: number; resolve: (reply: ServeReply) => void; reject: (error: Error) => void };
  private idleTimer?: NodeJS.Timeout;
  private alive = true;
  readonly ready: Promise<string>;

  constructor(private readonly channel: ServeChannel, private readonly idleMs: number, private readonly onStop: () => void, startupMs = 180_000) {
    let readyResolve!: (version: string) => void;
    let readyReject!: (error: Error) => void;
    this.ready = new Promise((resolve, reject) => { readyResolve = resolve; readyReject = reject; });
    const startupTimer = setTimeout(() => readyReject(new EngineError('timeout', `the warm harness did not start within ${startupMs / 1000} s:\n${channel.tail()}`)), startupMs);
    channel.onLine((line) => {
      let reply: ServeReply;
      try {
        reply = JSON.parse(line) as ServeReply;
      } catch {
        return; // not ours: the harness keeps stdout for replies, but be lenient
      }
      if (reply.ready) {
        clearTimeout(startupTimer);
        readyResolve(reply.airflowVersion ?? 'unknown');
      } else if (this.waiting && reply.id === this.waiting.id) {
        this.waiting.resolve(reply);
      }
    });
    channel.ended.then(() => {
      clearTimeout(startupTimer);
      const error = new EngineError('harness-failed', `the warm harness ended:\n${channel.tail().trim().slice(-3000)}`, 'parse without --warm to see the error of one file');
      readyReject(error);
      this.waiting?.reject(error);
      this.markStopped();
    });
    this.ready.catch(() => undefined);
    this.touch();
  }

  get running(): boolean {
    return this.alive;
  }

  /** Parses one file; resolves when the result file is written. */
  parse(request: ServeRequest, deadlineMs: number, signal?: AbortSignal): Promise<void> {
    const job = this.queue.then(() => this.send(request, deadlineMs, signal));
    this.queue = job.catch(() => undefined);
    return job;
  }

  async stop(): Promise<void> {
    this.markStopped();
    await this.channel.stop();
  }

  private async send(request: ServeRequest, deadlineMs: number, signal?: AbortSignal): Promise<void> {
    await this.ready;
    if (!this.alive) throw new EngineError('harness-failed', 'the warm harness has stopped');
    if (signal?.aborted) throw new EngineError('cancelled', 'cancelled');
    clearTimeout(this.idleTimer);
    const id = this.nextId++;
    try {
      const reply = await new Promise<ServeReply>((resolve, reject) => {
        this.waiting = { id, resolve, reject };
        const timer = setTimeout(() => reject(new EngineError('timeout', `stopped after ${Math.round(deadlineMs / 1000)} s (the runtime's timeout); the warm harness was restarted`, 'raise timeouts.parse in the runtime file, or find what hangs')), deadlineMs);
        const onAbort = () => reject(new EngineError('cancelled', 'cancelled'));
        signal?.addEventListener('abort', onAbort, { once: true });
        this.channel.send(JSON.stringify({ id, file: request.file, dagsFolder: request.dagsFolder, out: request.out, timeout: request.timeoutSeconds }));
        const settle = () => { clearTimeout(timer); signal?.removeEventListener('abort', onAbort); };
        this.waiting.resolve = (r) => { settle(); resolve(r); };
        this.waiting.reject = (e) => { settle(); reject(e); };
      });
      if (!reply.ok) throw new EngineError('harness-failed', `the warm harness could not parse ${request.file}: ${reply.error ?? 'no reason given'}`);
    } catch (error) {
      // A server we gave up on may still be busy with the request: it cannot be trusted with the next.
      if (error instanceof EngineError && error.code !== 'harness-failed') await this.stop();
      throw error;
    } finally {
      this.waiting = undefined;
      this.touch();
    }
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.stop(), this.idleMs);
    this.idleTimer.unref?.();
  }

  private markStopped(): void {
    if (!this.alive) return;
    this.alive = false;
    clearTimeout(this.idleTimer);
    this.onStop();
  }
}

/** Warm servers by key. Promises, so that two parses asking at once start one server, not two. */
export type WarmPool = Map<string, Promise<{ server: WarmServer; outDir: string }>>;

export async function startOnce(pool: WarmPool, key: string, start: () => Promise<{ server: WarmServer; outDir: string }>): Promise<{ server: WarmServer; outDir: string }> {
  const existing = pool.get(key);
  if (existing) {
    const entry = await existing.catch(() => undefined);
    if (entry?.server.running) return entry;
    if (pool.get(key) === existing) pool.delete(key);
    return startOnce(pool, key, start);
  }
  const starting = start();
  pool.set(key, starting);
  starting.catch(() => pool.get(key) === starting && pool.delete(key));
  return starting;
}

export async function stopAll(pool: WarmPool): Promise<void> {
  const entries = [...pool.values()];
  pool.clear();
  await Promise.all(entries.map((entry) => entry.then(({ server }) => server.stop(), () => undefined)));
}
