/** What the CLI says while it waits, when stderr is not a terminal (a CI log): a fake stream and a fake clock. */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { terminalProgress } from '../../src/cli/progress';

function fakeLog() {
  const lines: string[] = [];
  let clock = 0;
  const stream = { isTTY: false, columns: 80, write: (text: string) => (lines.push(...text.split('\n').filter(Boolean)), true) };
  const progress = terminalProgress(stream as unknown as NodeJS.WriteStream, { everyMs: 10_000, now: () => clock });
  /** `ms` pass: the clock moves and the timers that fall due fire. */
  const pass = (ms: number) => {
    for (let i = 0; i < ms / 1000; i++) {
      clock += 1000;
      mock.timers.tick(1000);
    }
  };
  return { lines, progress, pass };
}

describe('progress in a log (stderr not a terminal)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setInterval'] }));
  afterEach(() => mock.timers.reset());

  it('says when a slow stage starts, then one line every 10 s while it goes on, with its time so far', () => {
    const { lines, progress, pass } = fakeLog();
    progress.report({ stage: 'venv', message: 'creating a virtualenv with uv in /c/venvs/ab12' });
    pass(1000);
    progress.report({ stage: 'venv', message: 'installing airflow-2.11.2.txt with uv' });
    pass(28_000);
    progress.clear();
    pass(30_000);
    assert.deepEqual(lines, [
      'venv: creating a virtualenv with uv in /c/venvs/ab12',
      'venv: installing airflow-2.11.2.txt with uv (10 s)',
      'venv: installing airflow-2.11.2.txt with uv (20 s)',
    ]);
  });

  it('a tool that talks a lot gets one line per 10 s, not one per line', () => {
    const { lines, progress, pass } = fakeLog();
    progress.report({ stage: 'pull', message: 'pulling apache/airflow:2.11.2' });
    for (let i = 0; i < 25; i++) {
      pass(1000);
      progress.report({ stage: 'pull', message: `layer ${i} Downloading` });
    }
    progress.clear();
    assert.deepEqual(lines, ['pull: pulling apache/airflow:2.11.2', 'pull: layer 8 Downloading (10 s)', 'pull: layer 18 Downloading (20 s)']);
  });

  it('a new slow stage is said at once; quick stages (parse, run) are not said and end the slow one', () => {
    const { lines, progress, pass } = fakeLog();
    progress.report({ stage: 'build', message: 'building demo:1 from ./Dockerfile' });
    pass(2000);
    progress.report({ stage: 'start', message: "starting demo:1: the container, then Airflow's import (once per runtime)" });
    pass(3000);
    progress.report({ stage: 'parse', message: 'parsing etl.py in demo:1' });
    pass(60_000);
    assert.deepEqual(lines, ['build: building demo:1 from ./Dockerfile', "start: starting demo:1: the container, then Airflow's import (once per runtime)"]);
  });

  it('on a terminal, one status line rewritten in place, as before', () => {
    const written: string[] = [];
    const progress = terminalProgress({ isTTY: true, columns: 40, write: (text: string) => (written.push(text), true) } as unknown as NodeJS.WriteStream);
    progress.report({ stage: 'venv', message: 'installing airflow-2.11.2.txt with uv' });
    progress.clear();
    assert.deepEqual(written, ['\r\x1b[Kvenv: installing airflow-2.11.2.txt wit', '\r\x1b[K'], 'cut to the terminal\'s width');
  });
});
