/**
 * Parses files one request at a time per file: requests made while a file waits are debounced, requests
 * made while it parses are coalesced into one follow-up parse. Each request's promise settles when a parse
 * that started after it has finished, so a caller always sees the file as it was when it asked.
 */
export class ParseQueue {
  private readonly entries = new Map<string, Entry>();
  private readonly ready: string[] = [];
  private active = 0;
  private disposed = false;

  constructor(
    private readonly parseFile: (file: string, signal: AbortSignal) => Promise<void>,
    private readonly concurrency = 2,
  ) {}

  /** Asks for a parse of `file` after `delayMs` of quiet (0: as soon as a slot is free). */
  request(file: string, delayMs = 0): Promise<void> {
    if (this.disposed) return Promise.resolve();
    const entry = this.entryOf(file);
    entry.pending ??= deferred();
    clearTimeout(entry.timer);
    const promise = entry.pending.promise;
    if (delayMs > 0) {
      entry.timer = setTimeout(() => {
        entry.timer = undefined;
        this.enqueue(file);
      }, delayMs);
    } else {
      entry.timer = undefined;
      this.enqueue(file);
    }
    return promise;
  }

  isBusy(file: string): boolean {
    const entry = this.entries.get(file);
    return !!entry && (entry.running || !!entry.pending);
  }

  /** Drops a waiting request and aborts a running parse of `file` (deleted, renamed, or the user cancelled). */
  cancel(file: string): void {
    const entry = this.entries.get(file);
    if (!entry) return;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.pending?.resolve();
    entry.pending = undefined;
    entry.controller?.abort();
  }

  cancelAll(): void {
    for (const file of this.entries.keys()) this.cancel(file);
  }

  dispose(): void {
    this.cancelAll();
    this.disposed = true;
  }

  private entryOf(file: string): Entry {
    let entry = this.entries.get(file);
    if (!entry) this.entries.set(file, (entry = { running: false }));
    return entry;
  }

  private enqueue(file: string): void {
    if (!this.ready.includes(file)) this.ready.push(file);
    this.pump();
  }

  private pump(): void {
    while (this.active < this.concurrency && this.ready.length) {
      const file = this.ready.shift()!;
      const entry = this.entryOf(file);
      // A file being parsed gets its follow-up when the current parse ends.
      if (entry.running || !entry.pending) continue;
      void this.start(file, entry);
    }
  }

  private async start(file: string, entry: Entry): Promise<void> {
    const done = entry.pending!;
    entry.pending = undefined;
    entry.running = true;
    entry.controller = new AbortController();
    this.active++;
    try {
      await this.parseFile(file, entry.controller.signal);
    } catch {
      // parseFile records its own failures; the queue only keeps going.
    } finally {
      entry.running = false;
      entry.controller = undefined;
      this.active--;
      done.resolve();
      if (entry.pending && !entry.timer) this.ready.push(file);
      else if (!entry.pending) this.entries.delete(file);
      this.pump();
    }
  }
}

interface Entry {
  running: boolean;
  timer?: NodeJS.Timeout;
  pending?: Deferred;
  controller?: AbortController;
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}
