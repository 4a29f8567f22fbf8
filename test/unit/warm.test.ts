import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EngineError } from '../../src/core/engine/errors';
import { retireServersAfterChange, type ServeChannel, serveArgs, startOnce, stopAll, type WarmPool, type WarmScope, WarmServer } from '../../src/core/engine/warm';
import { PRE_IMPORT_ALLOWANCE_MS } from '../../src/core/engine/deadlines';

/** A harness `serve` on the other end of a channel: we see what is sent and answer by hand. */
class FakeHarness implements ServeChannel {
  readonly sent: Array<Record<string, unknown>> = [];
  stopped = false;
  private listener?: (line: string) => void;
  private end!: () => void;
  readonly ended = new Promise<void>((resolve) => { this.end = resolve; });

  send(line: string): void {
    this.sent.push(JSON.parse(line) as Record<string, unknown>);
  }

  onLine(listener: (line: string) => void): void {
    this.listener = listener;
  }

  tail(): string {
    return 'last words on stderr';
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.end();
  }

  ready(concurrency?: number): void {
    this.listener!(JSON.stringify({ ready: true, airflowVersion: '2.11.2', concurrency }));
  }

  reply(id: unknown, extra: Record<string, unknown> = { ok: true }): void {
    this.listener!(JSON.stringify({ id, ...extra }));
  }

  die(): void {
    this.end();
  }
}

const request = (file: string) => ({ file, dagsFolder: '/dags', timeoutSeconds: 10 });
const tick = () => new Promise((resolve) => setImmediate(resolve));

function server(options: { concurrency?: number; idleMs?: number } = {}) {
  const channel = new FakeHarness();
  let stops = 0;
  const warm = new WarmServer(channel, options.idleMs ?? 60_000, () => { stops++; });
  channel.ready(options.concurrency);
  return { channel, warm, stops: () => stops };
}

describe('a warm server', () => {
  it('retired while starting, it still answers the callers that were waiting for it, then stops', async () => {
    const channel = new FakeHarness();
    const warm = new WarmServer(channel, 60_000, () => undefined);
    warm.retire();
    const result = warm.parse(request('a.py'), 30_000);
    await tick();
    assert.equal(channel.stopped, false, 'stopped before the waiting caller was served');
    channel.ready();
    await tick();
    channel.reply(channel.sent[0].id, { ok: true, result: { format: 'x' } });
    assert.deepEqual(await result, { format: 'x' });
    await tick();
    assert.equal(channel.stopped, true);
  });

  it('sends up to the harness concurrency at once and matches replies by id, in any order', async () => {
    const { channel, warm } = server({ concurrency: 2 });
    const results = ['a.py', 'b.py', 'c.py'].map((f) => warm.parse(request(f), 30_000));
    await tick();
    assert.deepEqual(channel.sent.map((r) => r.file), ['a.py', 'b.py']);
    channel.reply(channel.sent[1].id, { ok: true, result: { file: 'b.py' } });
    assert.deepEqual(await results[1], { file: 'b.py' });
    await tick();
    assert.deepEqual(channel.sent.map((r) => r.file), ['a.py', 'b.py', 'c.py']);
    channel.reply(channel.sent[2].id, { ok: true, result: { file: 'c.py' } });
    channel.reply(channel.sent[0].id, { ok: true, result: { file: 'a.py' } });
    assert.deepEqual(await Promise.all(results), [{ file: 'a.py' }, { file: 'b.py' }, { file: 'c.py' }]);
    await warm.stop();
  });

  it('sends one at a time to a harness that does not say its concurrency', async () => {
    const { channel, warm } = server();
    const both = [warm.parse(request('a.py'), 30_000), warm.parse(request('b.py'), 30_000)];
    await tick();
    assert.equal(channel.sent.length, 1);
    channel.reply(channel.sent[0].id);
    await tick();
    assert.equal(channel.sent.length, 2);
    channel.reply(channel.sent[1].id);
    assert.deepEqual(await Promise.all(both), [undefined, undefined]);
    await warm.stop();
  });

  it('asks for the result in the reply unless the request names an out file', async () => {
    const { channel, warm } = server({ concurrency: 2 });
    const both = [warm.parse(request('a.py'), 30_000), warm.parse({ ...request('b.py'), out: '/out/b.json' }, 30_000)];
    await tick();
    assert.equal('out' in channel.sent[0], false);
    assert.equal(channel.sent[1].out, '/out/b.json');
    assert.equal(channel.sent[0].timeout, 10);
    channel.reply(channel.sent[0].id, { ok: true, result: { file: 'a.py' } });
    channel.reply(channel.sent[1].id, { ok: true, out: '/out/b.json' });
    assert.deepEqual(await Promise.all(both), [{ file: 'a.py' }, undefined]);
    await warm.stop();
  });

  it('turns a harness error into an EngineError and stays up', async () => {
    const { channel, warm } = server();
    const failing = warm.parse(request('a.py'), 30_000);
    await tick();
    channel.reply(channel.sent[0].id, { ok: false, error: 'HarnessError: no such file: a.py' });
    await assert.rejects(failing, (e: EngineError) => e.code === 'harness-failed' && /no such file/.test(e.message));
    assert.equal(warm.running, true);
    await warm.stop();
  });

  it('answers a cancelled parse at once, but keeps its slot until the harness answers', async () => {
    const { channel, warm } = server();
    const abort = new AbortController();
    const cancelled = warm.parse(request('a.py'), 30_000, abort.signal);
    const next = warm.parse(request('b.py'), 30_000);
    await tick();
    abort.abort();
    await assert.rejects(cancelled, (e: EngineError) => e.code === 'cancelled');
    await tick();
    assert.equal(channel.sent.length, 1, 'b.py waits: the harness is still parsing a.py');
    channel.reply(channel.sent[0].id);
    await tick();
    assert.equal(channel.sent[1].file, 'b.py');
    channel.reply(channel.sent[1].id, { ok: true, result: { file: 'b.py' } });
    assert.deepEqual(await next, { file: 'b.py' });
    assert.equal(warm.running, true);
    await warm.stop();
  });

  it('a parse cancelled while waiting for a slot is never sent', async () => {
    const { channel, warm } = server();
    const first = warm.parse(request('a.py'), 30_000);
    const abort = new AbortController();
    const waiting = warm.parse(request('b.py'), 30_000, abort.signal);
    await tick();
    abort.abort();
    await assert.rejects(waiting, (e: EngineError) => e.code === 'cancelled');
    channel.reply(channel.sent[0].id);
    await first;
    await tick();
    assert.deepEqual(channel.sent.map((r) => r.file), ['a.py']);
    await warm.stop();
  });

  it('fails every request in flight or waiting when the harness dies, and says so once stopped', async () => {
    const { channel, warm, stops } = server({ concurrency: 1 });
    const inFlight = warm.parse(request('a.py'), 30_000);
    const waiting = warm.parse(request('b.py'), 30_000);
    await tick();
    channel.die();
    // ended under accepted work: not the requests' fault, so the engines parse them again, each alone
    const ended = (error: unknown) => error instanceof EngineError && error.code === 'runtime-ended';
    await assert.rejects(inFlight, ended);
    await assert.rejects(waiting, ended);
    assert.equal(warm.running, false);
    assert.equal(stops(), 1);
    await assert.rejects(warm.parse(request('c.py'), 30_000), ended);
  });

  it('a harness that dies while starting says why, from its own error event', async () => {
    const channel = new FakeHarness();
    channel.tail = () => 'noise\n@@airflow-runtime-event {"event": "error", "code": "no-airflow", "message": "Airflow is not installed in this interpreter: /x/python"}\n';
    const warm = new WarmServer(channel, 60_000, () => undefined);
    const parse = warm.parse(request('a.py'), 30_000);
    channel.die();
    await assert.rejects(parse, (error: unknown) => error instanceof EngineError && error.code === 'interpreter-missing'
      && /the warm harness ended: Airflow is not installed in this interpreter: \/x\/python/.test(error.message));
  });

  it('a harness that does not answer past its own deadline is stopped: that parse times out, the others fail', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { channel, warm } = server({ concurrency: 2 });
    const hung = warm.parse({ ...request('hang.py'), timeoutSeconds: 7 }, 10_000);
    const other = warm.parse(request('ok.py'), 30_000);
    await tick();
    await tick();
    assert.equal(channel.sent.length, 2);
    // 7 s timeout + 2 s kill grace < 10 s deadline: the backstop is 10 + 3 s, and the harness's pre-import allowance
    t.mock.timers.tick(10_000 + 3_000 + PRE_IMPORT_ALLOWANCE_MS - 1);
    assert.equal(channel.stopped, false);
    t.mock.timers.tick(1);
    await assert.rejects(hung, (e: EngineError) => e.code === 'timeout' && /10 s/.test(e.message));
    await assert.rejects(other, (e: EngineError) => e.code === 'harness-failed' && /its parse of hang.py did not answer/.test(e.message));
    assert.equal(channel.stopped, true);
  });

  it('stops itself after idleMs without work', async () => {
    const { channel, warm } = server({ idleMs: 20 });
    const parsed = warm.parse(request('a.py'), 30_000);
    await tick();
    channel.reply(channel.sent[0].id);
    await parsed;
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(channel.stopped, true);
    assert.equal(warm.running, false);
  });

  it('a retired server finishes what it accepted, then stops', async () => {
    const { channel, warm } = server();
    const accepted = [warm.parse(request('a.py'), 30_000), warm.parse(request('b.py'), 30_000)];
    await tick();
    warm.retire();
    assert.equal(channel.stopped, false);
    channel.reply(channel.sent[0].id);
    await tick();
    channel.reply(channel.sent[1].id);
    await Promise.all(accepted);
    await tick();
    assert.equal(channel.stopped, true);
  });
});

type Entry = { server: WarmServer; name: string };

/** A pool whose servers talk to fake harnesses; `started` lists the names started, in order. */
function pool() {
  const servers: WarmPool<Entry> = new Map();
  const channels = new Map<string, FakeHarness>();
  const start = (name: string) => async (): Promise<Entry> => {
    const channel = new FakeHarness();
    channels.set(name, channel);
    const warm = new WarmServer(channel, 60_000, () => undefined);
    channel.ready(1);
    return { server: warm, name };
  };
  return { servers, channels, start };
}

const scope = (root: string, runtimeFiles: string[]): WarmScope => ({ identity: JSON.stringify([root, runtimeFiles]), root, runtimeFiles });

describe('the warm pool', () => {
  it('starts one server per key, even when two parses ask at once', async () => {
    const { servers, channels, start } = pool();
    const [a, b] = await Promise.all([startOnce(servers, 'k1', start('first')), startOnce(servers, 'k1', start('second'))]);
    assert.equal(a, b);
    assert.deepEqual([...channels.keys()], ['first']);
    await stopAll(servers);
    assert.equal(channels.get('first')!.stopped, true);
  });

  it('replaces a server that stopped', async () => {
    const { servers, start } = pool();
    const first = await startOnce(servers, 'k1', start('first'));
    await first.server.stop();
    const second = await startOnce(servers, 'k1', start('second'));
    assert.equal(second.name, 'second');
    await stopAll(servers);
  });

  it('a new key for the same DAG root and runtime files (the runtime was edited) retires the old server', async () => {
    const { servers, channels, start } = pool();
    const files = ['/ws/airflow-runtime.yaml', '/ws/dags/etl.airflow-runtime.yaml'];
    await startOnce(servers, 'old-values', start('old'), scope('/ws/dags', files));
    await startOnce(servers, 'other-dag', start('other'), scope('/ws/dags', ['/ws/airflow-runtime.yaml']));
    await startOnce(servers, 'new-values', start('new'), scope('/ws/dags', files));
    await tick();
    assert.equal(channels.get('old')!.stopped, true);
    assert.equal(channels.get('other')!.stopped, false, 'another runtime under the same root stays');
    assert.deepEqual([...servers.keys()].sort(), ['new-values', 'other-dag']);
    await stopAll(servers);
  });

  it('an edit of a runtime file retires nothing: the next parse keeps a server its runtime did not change, and replaces one it did', async () => {
    const { servers, channels, start } = pool();
    const files = ['/ws/airflow-runtime.yaml', '/ws/dags/a.airflow-runtime.yaml'];
    await startOnce(servers, 'a', start('a'), scope('/ws/dags', files));
    await startOnce(servers, 'b', start('b'), scope('/ws/dags', ['/ws/airflow-runtime.yaml']));
    assert.equal(retireServersAfterChange(servers, '/ws/dags/a.airflow-runtime.yaml', undefined, () => true), 0);
    // a comment added: the same key, the same server
    assert.equal((await startOnce(servers, 'a', start('a-again'), scope('/ws/dags', files))).name, 'a');
    // a value changed: a new key for the same runtime files retires the old server
    await startOnce(servers, 'a-new', start('a-new'), scope('/ws/dags', files));
    await tick();
    assert.deepEqual([...channels].filter(([, c]) => c.stopped).map(([n]) => n), ['a']);
    await stopAll(servers);
  });

  it('a deleted runtime file retires the servers made of it, and only those', async () => {
    const { servers, channels, start } = pool();
    await startOnce(servers, 'a', start('a'), scope('/ws/dags', ['/ws/airflow-runtime.yaml', '/ws/dags/a.airflow-runtime.yaml']));
    await startOnce(servers, 'b', start('b'), scope('/ws/dags', ['/ws/airflow-runtime.yaml']));
    await startOnce(servers, 'c', start('c'), scope('/ws2/dags', ['/ws2/airflow-runtime.yaml']));
    const gone = () => false;
    assert.equal(retireServersAfterChange(servers, '/ws/dags/a.airflow-runtime.yaml', undefined, gone), 1);
    await tick();
    assert.deepEqual([...channels].filter(([, c]) => c.stopped).map(([n]) => n), ['a']);
    assert.equal(retireServersAfterChange(servers, '/ws/airflow-runtime.yaml', undefined, gone), 1);
    assert.deepEqual([...servers.keys()], ['c']);
    await stopAll(servers);
  });

  it('a runtime file no server was made of (a new one) stops the servers whose DAG root shares its folder line', async () => {
    const { servers, start } = pool();
    await startOnce(servers, 'a', start('a'), scope('/ws/dags', ['/ws/airflow-runtime.yaml']));
    await startOnce(servers, 'c', start('c'), scope('/ws2/dags', []));
    assert.equal(retireServersAfterChange(servers, '/ws/dags/team/airflow-runtime.yaml'), 1);
    assert.deepEqual([...servers.keys()], ['c']);
    await stopAll(servers);
  });

  it('a server whose runtime was read after the change already has it and is kept (watchers report late)', async () => {
    const { servers, start } = pool();
    const changedAt = Date.now() - 1000;
    await startOnce(servers, 'a', start('a'), scope('/ws/dags', ['/ws/airflow-runtime.yaml']));
    assert.equal(retireServersAfterChange(servers, '/ws/dags/team/airflow-runtime.yaml', changedAt), 0);
    assert.equal(retireServersAfterChange(servers, '/ws/dags/team/airflow-runtime.yaml', Date.now() + 1000), 1);
    await stopAll(servers);
  });

  it('a server without a scope is stopped by any change; no file named stops all', async () => {
    const { servers, start } = pool();
    await startOnce(servers, 'unscoped', start('unscoped'));
    await startOnce(servers, 'scoped', start('scoped'), scope('/ws/dags', ['/ws/airflow-runtime.yaml']));
    assert.equal(retireServersAfterChange(servers, '/elsewhere/airflow-runtime.yaml'), 1);
    assert.deepEqual([...servers.keys()], ['scoped']);
    assert.equal(retireServersAfterChange(servers), 1);
    assert.equal(servers.size, 0);
  });
});

describe('the warm harness command', () => {
  it('pre-imports unless the person turned it off (parse --no-pre-import, airflowRuntime.parse.preImport)', () => {
    assert.deepEqual(serveArgs({}), ['-m', 'airflow_runtime_harness', 'serve']);
    assert.deepEqual(serveArgs({ warm: true, preImport: true }), ['-m', 'airflow_runtime_harness', 'serve']);
    assert.deepEqual(serveArgs({ warm: true, preImport: false }), ['-m', 'airflow_runtime_harness', 'serve', '--no-pre-import']);
  });
});
