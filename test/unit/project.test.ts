import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { EngineError } from '../../src/core/engine/errors';
import type { ParseResult } from '../../src/core/harness/parseResult';
import { DagFileStates, stateOf } from '../../src/core/project/dagFileStates';
import { EngineSession } from '../../src/core/project/engineSession';
import { frameLineIn, hiddenWarnings, importHint, parseProblems } from '../../src/core/project/parseProblems';
import { ParseQueue } from '../../src/core/project/parseQueue';
import { dagFilesAffectedBy } from '../../src/core/runtime/names';
import { distributionFor, missingModuleOf, requiresDistribution } from '../../src/core/runtime/packages';

/** Lets pending promise callbacks run (not a timer: the debounce tests mock timers). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A parse function that records calls and finishes each one when told to. */
function recorder() {
  const calls: string[] = [];
  const finishers: (() => void)[] = [];
  let running = 0;
  let maxRunning = 0;
  const parse = (file: string, signal: AbortSignal) => new Promise<void>((resolve) => {
    calls.push(file);
    running++;
    maxRunning = Math.max(maxRunning, running);
    const finish = () => { running--; resolve(); };
    finishers.push(finish);
    signal.addEventListener('abort', finish);
  });
  return { calls, parse, finishAll: () => finishers.splice(0).forEach((f) => f()), maxRunning: () => maxRunning };
}

function result(overrides: Partial<ParseResult> = {}): ParseResult {
  return { format: 'airflow-runtime/parse-result@1', file: '/ws/dags/etl.py', airflowVersion: '2.11.2', pythonVersion: '3.11', durationMs: 1, dags: [], importErrors: [], warnings: [], ...overrides };
}

describe('the parse queue', () => {
  it('debounces a burst of requests for one file into one parse', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const r = recorder();
    const queue = new ParseQueue(r.parse);
    const requests = [queue.request('a.py', 20)];
    t.mock.timers.tick(15);
    requests.push(queue.request('a.py', 20));
    t.mock.timers.tick(15);
    requests.push(queue.request('a.py', 20));
    t.mock.timers.tick(19);
    assert.deepEqual(r.calls, [], 'still within 20 ms of the last request');
    t.mock.timers.tick(1);
    assert.deepEqual(r.calls, ['a.py']);
    r.finishAll();
    await Promise.all(requests);
  });

  it('coalesces requests made during a parse into one follow-up parse, which their promises wait for', async () => {
    const r = recorder();
    const queue = new ParseQueue(r.parse);
    const first = queue.request('a.py');
    await settle();
    let followUpDone = false;
    const second = queue.request('a.py').then(() => { followUpDone = true; });
    void queue.request('a.py');
    r.finishAll();
    await first;
    await settle();
    assert.equal(followUpDone, false, 'a request made during a parse waits for the parse after it');
    assert.deepEqual(r.calls, ['a.py', 'a.py']);
    r.finishAll();
    await second;
  });

  it('parses at most `concurrency` files at once', async () => {
    const r = recorder();
    const queue = new ParseQueue(r.parse, 2);
    const all = ['a', 'b', 'c', 'd'].map((f) => queue.request(f));
    await settle();
    assert.equal(r.calls.length, 2);
    while (r.calls.length < 4) { r.finishAll(); await settle(); }
    r.finishAll();
    await Promise.all(all);
    assert.equal(r.maxRunning(), 2);
  });

  it('cancel aborts a running parse and drops a waiting one', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const r = recorder();
    const queue = new ParseQueue(r.parse);
    const running = queue.request('a.py');
    const waiting = queue.request('b.py', 50);
    await settle();
    queue.cancelAll();
    await Promise.all([running, waiting]);
    t.mock.timers.tick(60);
    assert.deepEqual(r.calls, ['a.py']);
  });
});

describe('DAG file states', () => {
  it('goes unparsed, parsing, parsed or import error, then stale when the file changes after the parse began', () => {
    const states = new DagFileStates();
    states.setFiles(['/ws/a.py']);
    assert.equal(stateOf(states.get('/ws/a.py')), 'unparsed');
    states.startParsing('/ws/a.py');
    assert.equal(stateOf(states.get('/ws/a.py')), 'parsing');
    const startedAt = states.get('/ws/a.py')!.startedAt!;
    states.finishParsing('/ws/a.py', { result: result({ importErrors: [{ file: '/ws/a.py', line: 3, column: 1, message: 'x' }] }) });
    assert.equal(stateOf(states.get('/ws/a.py')), 'import-error');
    states.markStale(['/ws/a.py'], startedAt - 1);
    assert.equal(stateOf(states.get('/ws/a.py')), 'import-error', 'a change the parse already saw');
    states.markStale(['/ws/a.py'], startedAt + 1);
    assert.equal(stateOf(states.get('/ws/a.py')), 'stale');
  });

  it('a search forgets files it did not find, but not one added after it began (it could not see it)', () => {
    let now = 1000;
    const states = new DagFileStates(() => now);
    states.setFiles(['/ws/a.py', '/ws/gone.py']);
    const searchedAt = (now = 2000);
    now = 3000;
    states.add('/ws/new.py'); // created while the search ran
    states.setFiles(['/ws/a.py'], searchedAt);
    assert.deepEqual(states.files, ['/ws/a.py', '/ws/new.py']);
  });

  it('a changed runtime clears an engine failure: it was about the runtime the file had', () => {
    const states = new DagFileStates();
    states.add('/ws/a.py');
    states.startParsing('/ws/a.py');
    states.finishParsing('/ws/a.py', { failure: { code: 'image-missing', message: 'image x is not present' } });
    assert.equal(stateOf(states.get('/ws/a.py')), 'failed');
    states.markStale(['/ws/a.py']);
    assert.equal(stateOf(states.get('/ws/a.py')), 'unparsed');
    assert.equal(states.get('/ws/a.py')!.failure, undefined);
  });

  it('keeps the last result when a parse is cancelled, and says failed with the engine error otherwise', () => {
    const states = new DagFileStates();
    states.add('/ws/a.py');
    states.finishParsing('/ws/a.py', { result: result() });
    states.startParsing('/ws/a.py');
    states.finishParsing('/ws/a.py', { cancelled: true });
    assert.equal(stateOf(states.get('/ws/a.py')), 'parsed');
    states.finishParsing('/ws/a.py', { failure: { code: 'image-missing', message: 'no image' } });
    assert.equal(stateOf(states.get('/ws/a.py')), 'failed');
  });

  it('reports the files that changed', () => {
    const states = new DagFileStates();
    const seen: string[][] = [];
    states.onDidChange((files) => seen.push(files));
    states.setFiles(['/ws/a.py', '/ws/b.py']);
    states.setFiles(['/ws/b.py', '/ws/c.py']);
    assert.deepEqual(seen, [['/ws/a.py', '/ws/b.py'], ['/ws/a.py', '/ws/c.py']]);
  });
});

describe('problems of a parse', () => {
  it('an import error in the DAG file is an error at its line', () => {
    const problems = parseProblems('/ws/dags/etl.py', result({ importErrors: [{ file: '/ws/dags/etl.py', line: 6, column: 1, message: "ModuleNotFoundError: No module named 'pandas'" }] }));
    assert.deepEqual(problems.map((p) => [p.file, p.line, p.severity, p.code]), [['/ws/dags/etl.py', 6, 'error', 'import-error']]);
  });

  it('an import error in a helper module is shown there, and at the DAG file\'s import line', () => {
    const traceback = 'Traceback (most recent call last):\n  File "/ws/dags/etl.py", line 4, in <module>\n    from helpers import x\n  File "/ws/dags/helpers.py", line 2, in <module>\n    import pandas\n';
    const problems = parseProblems('/ws/dags/etl.py', result({ importErrors: [{ file: '/ws/dags/helpers.py', line: 2, column: 1, message: 'ModuleNotFoundError', traceback }] }));
    assert.deepEqual(problems.map((p) => [p.file, p.line, p.code]), [['/ws/dags/helpers.py', 2, 'import-error'], ['/ws/dags/etl.py', 4, 'import-error-elsewhere']]);
    assert.equal(problems[1].related?.file, '/ws/dags/helpers.py');
  });

  it('a timeout is an error on the DAG file and warnings are warnings', () => {
    const problems = parseProblems('/ws/a.py', result({ timedOut: true, warnings: [{ file: '/ws/a.py', line: 3, category: 'DeprecationWarning', message: 'old' }] }));
    assert.deepEqual(problems.map((p) => [p.line, p.severity, p.code]), [[null, 'error', 'parse-timeout'], [3, 'warning', 'parse-warning']]);
  });

  it('a helper\'s error goes to the DAG file\'s import line the harness relates it to, and keeps that place', () => {
    const problems = parseProblems('/ws/dags/a.py', result({ importErrors: [{ file: '/ws/include/db.py', line: 5, column: 8, message: "KeyError: 'PGHOST'",
      related: [{ file: '/ws/dags/a.py', line: 3, message: 'the DAG file reaches the failing module here' }] }] }));
    assert.deepEqual(problems.map((p) => [p.file, p.line, p.code, p.related?.file, p.related?.line]), [
      ['/ws/include/db.py', 5, 'import-error', '/ws/dags/a.py', 3],
      ['/ws/dags/a.py', 3, 'import-error-elsewhere', '/ws/include/db.py', 5],
    ]);
  });

  it('warnings raised inside Airflow or libraries are left out unless all are asked for', () => {
    const warnings = [
      { file: '/ws/a.py', line: 3, category: 'DeprecationWarning', message: 'mine' },
      { file: '/ws/a.py', line: 4, category: 'DeprecationWarning', message: "'_app_ctx_stack' is deprecated", internal: true, origin: '/venv/flask_sqlalchemy/__init__.py:14' },
    ];
    assert.deepEqual(parseProblems('/ws/a.py', result({ warnings })).map((p) => p.message), ['DeprecationWarning: mine']);
    assert.equal(hiddenWarnings(result({ warnings })), 1);
    assert.equal(parseProblems('/ws/a.py', result({ warnings }), { allWarnings: true }).length, 2);
    assert.equal(hiddenWarnings(result({ warnings }), { allWarnings: true }), 0);
  });

  it('an import of a top-level package that is a folder of the project names pythonPath; others get no hint', () => {
    const ws = mkdtempSync(path.join(os.tmpdir(), 'airflow-runtime-hint-'));
    mkdirSync(path.join(ws, 'dags/common'), { recursive: true });
    mkdirSync(path.join(ws, 'src/team'), { recursive: true });
    const hint = (message: string) => importHint({ message }, ws);
    assert.match(hint("ModuleNotFoundError: No module named 'dags'") ?? '', /^dags\/ is in the project, .*pythonPath: \["\."\]/);
    assert.match(hint("ModuleNotFoundError: No module named 'team'") ?? '', /^src\/team\/ is in the project, .*pythonPath: \["src"\]/);
    assert.equal(hint("ModuleNotFoundError: No module named 'pandas'"), undefined);
    assert.equal(hint("ModuleNotFoundError: No module named 'dags.other'"), undefined, 'dags itself was found');
    const [problem] = parseProblems(path.join(ws, 'dags/a.py'), result({ importErrors: [{ file: path.join(ws, 'dags/a.py'), line: 3, column: 1, message: "ModuleNotFoundError: No module named 'dags'" }] }), { workspaceRoot: ws });
    assert.match(problem.message, /No module named 'dags' \(dags\/ is in the project, .*pythonPath/);
  });

  it('finds the last frame of a file in a traceback', () => {
    assert.equal(frameLineIn('File "/a.py", line 3\nFile "/b.py", line 9\nFile "/a.py", line 5', '/a.py'), 5);
    assert.equal(frameLineIn(undefined, '/a.py'), null);
  });
});

describe('the engine session', () => {
  const engine = { kind: 'local' as const, describe: () => 'local', parse: async () => result(), run: async () => ({ exitCode: 0 as const, durationMs: 1 }), testDag: async () => ({ exitCode: 0 as const, durationMs: 1 }), render: async () => ({ exitCode: 0 as const, fields: [], durationMs: 1 }), retireWarmRuntimes: () => 0, dispose: async () => undefined };

  it('chooses the engine once, on first use, and says which', async () => {
    let selections = 0;
    const session = new EngineSession(() => ({ choice: 'auto', warm: true }), async () => { selections++; return { engine, reason: 'local, because' }; });
    assert.equal(session.status.state, 'idle');
    await Promise.all([session.engine(), session.engine()]);
    assert.equal(selections, 1);
    assert.deepEqual(session.status, { state: 'ready', kind: 'local', reason: 'local, because' });
  });

  it('keeps a failure as its status, and tries again on the next use', async () => {
    let fail = true;
    const session = new EngineSession(() => ({ choice: 'docker', warm: false }), async () => {
      if (fail) throw new EngineError('engine-unreachable', 'Docker is not reachable at unix:///var/run/docker.sock');
      return { engine, reason: 'docker' };
    });
    await assert.rejects(session.engine(), /not reachable/);
    await settle();
    assert.equal(session.status.state, 'failed');
    fail = false;
    await session.engine();
    assert.equal(session.status.state, 'ready');
  });
});

describe('which DAG files a runtime file applies to', () => {
  const files = ['/ws/dags/a.py', '/ws/dags/team/b.py', '/ws/dags/team/c.py', '/ws/dags2/d.py'];
  it('a folder file: its folder and below, not a folder that only starts with its name', () => {
    assert.deepEqual(dagFilesAffectedBy('/ws/dags/airflow-runtime.yaml', files), ['/ws/dags/a.py', '/ws/dags/team/b.py', '/ws/dags/team/c.py']);
    assert.deepEqual(dagFilesAffectedBy('/ws/dags/team/airflow-runtime.yaml', files), ['/ws/dags/team/b.py', '/ws/dags/team/c.py']);
  });
  it('a DAG file\'s own file: that file; anything else: none', () => {
    assert.deepEqual(dagFilesAffectedBy('/ws/dags/team/b.airflow-runtime.yaml', files), ['/ws/dags/team/b.py']);
    assert.deepEqual(dagFilesAffectedBy('/ws/dags/notes.yaml', files), []);
  });
});

describe('missing modules and requirements files', () => {
  it('the top-level module of a ModuleNotFoundError, and the distribution pip needs for it', () => {
    assert.equal(missingModuleOf("ModuleNotFoundError: No module named 'pandas.core'"), 'pandas');
    assert.equal(missingModuleOf('ValueError: nope'), undefined);
    assert.equal(distributionFor('sklearn'), 'scikit-learn');
    assert.equal(distributionFor('pandas'), 'pandas');
  });
  it('a requirements file names a distribution whatever its case, separators and version spec', () => {
    const text = '# pinned\napache-airflow==2.11.2\nScikit_Learn>=1.4  # models\n';
    assert.equal(requiresDistribution(text, 'scikit-learn'), true);
    assert.equal(requiresDistribution(text, 'apache_airflow'), true);
    assert.equal(requiresDistribution(text, 'pandas'), false);
  });
});
