/** One build several parses wait for: a parse that cancels stops waiting; the build stops only when all have. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EngineError } from '../../src/core/engine/errors';
import { SharedWork } from '../../src/core/engine/sharedWork';
import type { ProgressEvent } from '../../src/core/engine/types';

/** A fake build: it says one progress line, one line of output, then ends when told to (or fails when stopped). */
function fakeBuild() {
  let finish!: (value: string) => void;
  let heard: AbortSignal | undefined;
  let tell!: { progress: (message: string) => void; output: (line: string) => void };
  const work = new SharedWork<string>((options) => {
    heard = options.signal;
    tell = { progress: (message) => options.onProgress({ stage: 'build', message }), output: options.onBuildOutput };
    return new Promise<string>((resolve, reject) => {
      finish = resolve;
      options.signal.addEventListener('abort', () => reject(new Error('the build was stopped')));
    });
  });
  return { work, finish: (value: string) => finish(value), signal: () => heard!, tell: () => tell };
}

const cancelled = (error: EngineError) => error.code === 'cancelled';

describe('a build shared by the parses that wait for it', () => {
  it('one waiter cancelling rejects that waiter only; the build goes on and the others get its image', async () => {
    const build = fakeBuild();
    const first = new AbortController();
    const waiting = build.work.join({ signal: first.signal });
    const other = build.work.join({ signal: new AbortController().signal });
    first.abort();
    await assert.rejects(waiting, cancelled);
    assert.equal(build.signal().aborted, false);
    assert.equal(build.work.stopped, false);
    build.finish('airflow-runtime-built:abc');
    assert.equal(await other, 'airflow-runtime-built:abc');
  });

  it('the build is stopped when every waiter has cancelled, and a waiter that joins then is told it was', async () => {
    const build = fakeBuild();
    const a = new AbortController();
    const b = new AbortController();
    const waits = [build.work.join({ signal: a.signal }), build.work.join({ signal: b.signal })];
    a.abort();
    assert.equal(build.signal().aborted, false);
    b.abort();
    for (const wait of waits) await assert.rejects(wait, cancelled);
    assert.equal(build.signal().aborted, true);
    assert.equal(build.work.stopped, true);
    await build.work.settled;
  });

  it('a waiter without a signal keeps the build going', async () => {
    const build = fakeBuild();
    const a = new AbortController();
    const cancelledWait = build.work.join({ signal: a.signal });
    const patient = build.work.join({});
    a.abort();
    await assert.rejects(cancelledWait, cancelled);
    assert.equal(build.signal().aborted, false);
    build.finish('image');
    assert.equal(await patient, 'image');
  });

  it('progress and output reach each waiter while it waits, not one that has cancelled', async () => {
    const build = fakeBuild();
    const heard = { a: [] as string[], b: [] as string[] };
    const a = new AbortController();
    const record = (into: string[]) => ({ onProgress: (event: ProgressEvent) => into.push(event.message), onBuildOutput: (line: string) => into.push(`| ${line}`) });
    const waitA = build.work.join({ signal: a.signal, ...record(heard.a) });
    const waitB = build.work.join({ ...record(heard.b) });
    build.tell().progress('building the runtime (0 of 1 requirements)');
    a.abort();
    await assert.rejects(waitA, cancelled);
    build.tell().output('Collecting inflection==0.5.1');
    build.finish('image');
    await waitB;
    assert.deepEqual(heard.a, ['building the runtime (0 of 1 requirements)']);
    assert.deepEqual(heard.b, ['building the runtime (0 of 1 requirements)', '| Collecting inflection==0.5.1']);
  });

  it('waiters that share one log (the editor\'s files of one runtime) get each line of output once', async () => {
    const build = fakeBuild();
    const log: string[] = [];
    const sink = (line: string) => log.push(line);
    const waits = [build.work.join({ onBuildOutput: sink }), build.work.join({ onBuildOutput: sink })];
    build.tell().output('Collecting inflection==0.5.1');
    build.finish('image');
    await Promise.all(waits);
    assert.deepEqual(log, ['Collecting inflection==0.5.1']);
  });

  it('a failure of the build reaches every waiter', async () => {
    const work = new SharedWork<string>(() => Promise.reject(new Error('pip failed')));
    await Promise.all([work.join({}), work.join({})].map((wait) => assert.rejects(wait, /pip failed/)));
  });
});
