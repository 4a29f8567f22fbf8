/** The pure parts of the engines' life cycle: who owns what, how many at once, how a harness failure is told. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { defaultJobs } from '../../src/core/engine/capacity';
import { describeFailure, EngineError, engineErrorOf } from '../../src/core/engine/errors';
import { harnessFailure } from '../../src/core/harness/harnessEvents';
import { ageOf, ME, ownTempDir, parseOwner, removable, tempFolders } from '../../src/core/engine/owner';

const GB = 1024 ** 3;

describe('default --jobs', () => {
  it('is one per core, no more than free memory holds, at least one, at most eight', () => {
    assert.equal(defaultJobs(2, 24 * GB), 2);
    assert.equal(defaultJobs(16, 2 * GB), 4, 'memory bounds it: 512 MB each');
    assert.equal(defaultJobs(64, 512 * GB), 8);
    assert.equal(defaultJobs(4, 100 * 1024 * 1024), 1, 'a machine out of memory still parses, one at a time');
  });
});

describe('what cleanup may remove', () => {
  const dead = 999_999_999;
  it('this user\'s from this machine whose owner is gone', () => {
    assert.equal(removable({ ...ME, pid: dead }, false), true);
    assert.equal(removable({ ...ME, pid: process.pid }, false), false, 'the owner runs');
  });

  it('never another machine\'s or another user\'s, nor one whose user is not known, unless --all', () => {
    for (const owner of [{ ...ME, host: `not-${os.hostname()}`, pid: dead }, { ...ME, user: `not-${ME.user}`, pid: dead }, parseOwner(`${ME.host}:${dead}`, undefined)]) {
      assert.equal(removable(owner, false), false, JSON.stringify(owner));
      assert.equal(removable(owner, true), true);
    }
  });

  it('finds our temp folders by their names and says whose each is; unmarked ones of older harnesses only when no harness runs', () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'owner-unit-'));
    const make = (name: string, files: Record<string, string> = {}) => {
      mkdirSync(path.join(tmp, name));
      for (const [file, text] of Object.entries(files)) writeFileSync(path.join(tmp, name, file), text);
      return path.join(tmp, name);
    };
    const orphan = make(`airflow-runtime-home-${dead}-x1`, { '.airflow-runtime-owner.json': JSON.stringify({ project: '/work/proj' }) });
    make(`airflow-runtime-warm-${process.pid}-x2`); // its owner runs
    const unmarked = make('airflow-runtime-home-ab12cd34', { 'airflow.cfg': '' });
    make('airflow-runtime-zz99yy88'); // an empty folder of that shape: not ours to say
    make('airflow-runtime-lifecycle-Ab12Cd', { 'airflow.db': '' }); // a test workspace, not a harness's
    const whats = (harnessRunning: boolean) => tempFolders(false, tmp, harnessRunning).map((l) => l.what).sort();
    assert.deepEqual(whats(true), [`temp folder ${orphan} (project /work/proj, 0 s old, owner pid ${dead} gone)`]);
    assert.deepEqual(whats(false), [
      `temp folder ${orphan} (project /work/proj, 0 s old, owner pid ${dead} gone)`,
      `temp folder ${unmarked} (0 s old, left by an older harness: owner not recorded)`,
    ]);
    assert.equal(tempFolders(true, tmp, true).length, 3, '--all: the live owner\'s too');
    rmSync(tmp, { recursive: true, force: true });
  });

  it('makes temp folders with our pid in the name and the project inside', () => {
    const dir = ownTempDir('unit', '/work/proj');
    assert.match(path.basename(dir), new RegExp(`^airflow-runtime-unit-${process.pid}-`));
    assert.deepEqual(tempFolders(false, path.dirname(dir), false).filter((l) => l.what.includes(dir)), [], 'ours, in use');
    rmSync(dir, { recursive: true, force: true });
  });

  it('says ages as people do', () => {
    assert.deepEqual([ageOf(42_000), ageOf(12 * 60_000), ageOf(3 * 3600_000), ageOf(3 * 86_400_000)], ['42 s', '12 min', '3 h', '3 days']);
  });

  it('reads host:pid labels, host names with colons included', () => {
    assert.deepEqual(parseOwner('fe80::1:42', 'ann'), { host: 'fe80::1', pid: 42, user: 'ann' });
    assert.equal(parseOwner('nonsense', 'ann'), undefined);
    assert.equal(parseOwner(undefined, 'ann'), undefined);
  });
});

describe('a harness failure, told once and truly', () => {
  const context = { what: 'the harness could not parse /w/dags/a.py', runtime: 'img:1' };

  it('uses the harness\'s own {code, message}', () => {
    const error = harnessFailure({ code: 2, failure: { event: 'error', code: 'no-airflow', message: 'Airflow is not installed in this interpreter: /py' }, tail: 'noise' }, context);
    assert.equal(error.code, 'interpreter-missing');
    assert.equal(error.message, 'the harness could not parse /w/dags/a.py: Airflow is not installed in this interpreter: /py');
    assert.doesNotMatch(error.describe(), /noise/);
  });

  it('a start deadline is a start timeout, with what to do', () => {
    const error = harnessFailure({ code: 2, failure: { event: 'error', code: 'start-timeout', message: 'slow' }, tail: '' }, { ...context, startMs: 180_000 });
    assert.equal(error.code, 'start-timeout');
    assert.match(error.describe(), /did not start within 180 s[\s\S]*raise timeouts\.start/);
  });

  it('a kill while the DAG file ran is the DAG file\'s doing, not a missing Airflow', () => {
    for (const end of [{ code: null, signal: 'SIGKILL' as const }, { code: 137 }]) {
      const error = harnessFailure({ ...end, started: true, tail: '' }, context);
      assert.match(error.message, /the harness was killed \(SIGKILL\) while the DAG file's code ran/);
      assert.doesNotMatch(error.describe(), /Airflow 2\.9\+/);
    }
  });

  it('with nothing better, the way it ended and the output\'s tail', () => {
    assert.match(harnessFailure({ code: 127, tail: 'python: not found' }, context).describe(), /\(exit 127\):\npython: not found\n {2}what to do: img:1 has no python on PATH/);
    assert.match(harnessFailure({ code: 3, tail: '' }, context).describe(), /check that img:1 has Airflow 2\.9\+ or 3\.x/);
  });
});

describe('one EngineError path', () => {
  it('keeps ours, and turns anything else into `internal` without our stack', () => {
    const ours = new EngineError('timeout', 'late', 'wait');
    assert.equal(engineErrorOf(ours), ours);
    const other = engineErrorOf(new TypeError('x is undefined'));
    assert.equal(other.code, 'internal');
    assert.match(describeFailure(new TypeError('x is undefined')), /^unexpected failure: x is undefined\n {2}what to do: run again with AIRFLOW_RUNTIME_DEBUG=1/);
    assert.doesNotMatch(other.describe(), /\bat .+:\d+:\d+/);
  });
});
