/** A small Debug Adapter Protocol client over TCP: what an editor does, enough to test a debug session. */
import { connect, type Socket } from 'node:net';
import { dapFrame, DapReader } from '../../src/core/engine/dapFraming';

export interface DapMessage {
  seq: number;
  type: 'request' | 'response' | 'event';
  command?: string;
  event?: string;
  request_seq?: number;
  success?: boolean;
  message?: string;
  body?: Record<string, unknown>;
}

export class DapClient {
  private seq = 1;
  private readonly reader = new DapReader();
  private readonly waiting = new Map<number, (message: DapMessage) => void>();
  private readonly events: DapMessage[] = [];
  private readonly eventWaiters: { name: string; resolve: (message: DapMessage) => void }[] = [];

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
  }

  static open(port: number, host = '127.0.0.1'): Promise<DapClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host, () => resolve(new DapClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends a request; resolves with its response (rejects when the adapter says it failed). */
  request(command: string, args: Record<string, unknown> = {}): Promise<DapMessage> {
    const seq = this.seq++;
    this.socket.write(dapFrame({ seq, type: 'request', command, arguments: args }));
    return new Promise((resolve, reject) => this.waiting.set(seq, (response) => (response.success ? resolve(response) : reject(new Error(`${command}: ${response.message}`)))));
  }

  /** The first event of this name (already received, or the next one). */
  event(name: string, timeoutMs = 120_000): Promise<DapMessage> {
    const index = this.events.findIndex((e) => e.event === name);
    if (index >= 0) return Promise.resolve(this.events.splice(index, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${name}" event within ${timeoutMs} ms`)), timeoutMs);
      this.eventWaiters.push({ name, resolve: (message) => { clearTimeout(timer); resolve(message); } });
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    for (const message of this.reader.push(chunk) as DapMessage[]) {
      if (message.type === 'response') {
        this.waiting.get(message.request_seq!)?.(message);
        this.waiting.delete(message.request_seq!);
      } else if (message.type === 'event') {
        const waiter = this.eventWaiters.findIndex((w) => w.name === message.event);
        if (waiter >= 0) this.eventWaiters.splice(waiter, 1)[0].resolve(message);
        else this.events.push(message);
      }
    }
  }
}

/**
 * The session an editor has with debugpy: attach without path mappings, a breakpoint by host path, wait until
 * it stops there; returns where it stopped and the value of `variable` in that frame, then lets it run on.
 */
export async function stopAtBreakpoint(port: number, file: string, line: number, variable: string): Promise<{ file: string; line: number; value: string | undefined }> {
  const client = await DapClient.open(port);
  try {
    await client.request('initialize', { clientID: 'airflow-runtime-test', adapterID: 'debugpy', pathFormat: 'path', linesStartAt1: true, columnsStartAt1: true });
    const attached = client.request('attach', { justMyCode: true });
    await client.event('initialized');
    const set = await client.request('setBreakpoints', { source: { path: file }, breakpoints: [{ line }] });
    const verified = (set.body?.breakpoints as { verified: boolean }[] | undefined)?.[0]?.verified;
    await client.request('configurationDone');
    await attached;
    const stopped = await client.event('stopped');
    const threadId = stopped.body?.threadId as number;
    const trace = await client.request('stackTrace', { threadId, startFrame: 0, levels: 1 });
    const frame = (trace.body?.stackFrames as { id: number; line: number; source: { path: string } }[])[0];
    const scopes = await client.request('scopes', { frameId: frame.id });
    const locals = (scopes.body?.scopes as { name: string; variablesReference: number }[]).find((s) => /local/i.test(s.name))!;
    const variables = await client.request('variables', { variablesReference: locals.variablesReference });
    const value = (variables.body?.variables as { name: string; value: string }[]).find((v) => v.name === variable)?.value;
    await client.request('continue', { threadId });
    void verified;
    return { file: frame.source.path, line: frame.line, value };
  } finally {
    // leaving without `disconnect`: the program runs on to its end (a closed socket detaches debugpy)
    setTimeout(() => client.close(), 500);
  }
}
