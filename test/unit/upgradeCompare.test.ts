/** upgrade-check's pure parts: two parses of a DAG file compared, ruff's JSON read, ruff's edits applied. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DagInfo, ParseResult, TaskInfo } from '../../src/core/harness/parseResult';
import { readRuntimeFile } from '../../src/core/runtime/read';
import { fileLayer, resolveRuntime } from '../../src/core/runtime/resolve';
import { EngineError } from '../../src/core/engine/errors';
import type { Engine, ParseRequest } from '../../src/core/engine/types';
import { checkUpgrade, imageTarget } from '../../src/core/upgrade/check';
import { compareParses, sideNames, staticFindingText } from '../../src/core/upgrade/compare';
import { airflowRulesFor, applyEdits, readRuffOutput } from '../../src/core/upgrade/ruff';
import { withLayer } from '../../src/core/runtime/resolve';
import { fakeDisk } from './helpers';

const FILE = '/ws/dags/etl.py';
const task = (taskId: string, downstream: string[] = [], operator = 'EmptyOperator', line = 10): TaskInfo =>
  ({ taskId, operator, line, upstream: [], downstream, taskGroup: null, mapped: false });
const dag = (dagId: string, tasks: TaskInfo[], schedule: string | null = '@daily'): DagInfo => ({ dagId, line: 6, schedule, tags: [], tasks });
const result = (version: string, dags: DagInfo[], extra: Partial<ParseResult> = {}): ParseResult =>
  ({ format: 'airflow-runtime/parse-result@1', file: FILE, airflowVersion: version, pythonVersion: '3.11', durationMs: 1, dags, importErrors: [], warnings: [], ...extra });
const sides = { current: { airflowVersion: '2.11.2', runtime: 'airflow:2.11.2' }, target: { airflowVersion: '3.3.2', runtime: 'airflow:3.3.2' } };
const options = { workspaceRoot: '/ws' };

describe('comparing a DAG file parsed in its runtime and on the target', () => {
  it('is unchanged when both parses agree', () => {
    const both = [dag('etl', [task('a', ['b']), task('b')])];
    const compared = compareParses(FILE, result('2.11.2', both), result('3.3.2', structuredClone(both)), sides, options);
    assert.equal(compared.verdict, 'unchanged');
    assert.deepEqual(compared.findings, []);
    assert.deepEqual(compared.after[0].edges, ['a >> b']);
  });

  it('breaks on an import error only the target has, at its line, saying where it works', () => {
    const target = result('3.3.2', [], { importErrors: [{ file: FILE, line: 4, column: 1, message: "ModuleNotFoundError: No module named 'airflow.operators.dummy'" }] });
    const compared = compareParses(FILE, result('2.11.2', [dag('etl', [task('a')])]), target, sides, options);
    assert.equal(compared.verdict, 'breaks');
    assert.deepEqual(compared.findings, [{ file: FILE, line: 4, column: 1, kind: 'breaks', message: "ModuleNotFoundError: No module named 'airflow.operators.dummy' (works on 2.11.2, fails on 3.3.2)" }]);
  });

  it('does not call an error both runtimes have a break', () => {
    const importErrors = [{ file: FILE, line: 2, column: 1, message: "ModuleNotFoundError: No module named 'pandas'" }];
    const compared = compareParses(FILE, result('2.11.2', [], { importErrors }), result('3.3.2', [], { importErrors }), sides, options);
    assert.equal(compared.verdict, 'unchanged');
  });

  it('reports schedules, task types, tasks, edges and DAGs that change, at their lines', () => {
    const before = [dag('etl', [task('a', ['b']), task('b', [], 'EmptyOperator', 11), task('c', [], 'DummyOperator', 12)], '1 day, 0:00:00'), dag('old', [])];
    const after = [dag('etl', [task('a', []), task('b', [], 'EmptyOperator', 11), task('c', [], 'EmptyOperator', 12), task('d', [], 'BashOperator', 13)], null), dag('new', [])];
    const compared = compareParses(FILE, result('2.11.2', before), result('3.3.2', after), sides, options);
    assert.equal(compared.verdict, 'changes');
    assert.deepEqual(compared.findings.map((f) => `${f.line}: ${f.message}`), [
      '6: DAG "etl": schedule 1 day, 0:00:00 on 2.11.2, none on 3.3.2',
      '12: task "c" of DAG "etl": DummyOperator on 2.11.2, EmptyOperator on 3.3.2',
      '13: task "d" of DAG "etl" is new on 3.3.2 (BashOperator)',
      '11: DAG "etl": edge a >> b is gone on 3.3.2',
      '6: DAG "old" is gone on 3.3.2 (defined here on 2.11.2)',
      '6: DAG "new" is new on 3.3.2',
    ]);
  });

  it('counts a warning new on the target as a change, and leaves out warnings inside Airflow', () => {
    const warnings = [
      { file: FILE, line: 4, category: 'DeprecatedImportWarning', message: 'use airflow.providers.standard' },
      { file: FILE, line: 4, category: 'DeprecationWarning', message: 'inside', internal: true },
    ];
    const compared = compareParses(FILE, result('2.11.2', []), result('3.3.2', [], { warnings }), sides, options);
    assert.deepEqual(compared.findings, [{ file: FILE, line: 4, column: null, kind: 'warning', message: 'DeprecatedImportWarning: use airflow.providers.standard (new on 3.3.2)' }]);
  });

  it('names the runtimes when both are one Airflow version (a provider upgrade)', () => {
    assert.deepEqual(sideNames({ airflowVersion: '2.11.2', runtime: 'a:1' }, { airflowVersion: '2.11.2', runtime: 'a:2' }), ['2.11.2 (a:1)', '2.11.2 (a:2)']);
  });
});

describe("ruff's part", () => {
  it('asks for the Airflow 3 rules only when the target is Airflow 3', () => {
    assert.deepEqual(airflowRulesFor(2), []);
    assert.ok(airflowRulesFor(3).includes('AIR301') && airflowRulesFor(3).includes('AIR302'));
  });

  it('reads its JSON findings with their fixes', () => {
    const [finding] = readRuffOutput(JSON.stringify([{
      cell: null, code: 'AIR301', filename: FILE, message: '`schedule_interval` is removed in Airflow 3.0', noqa_row: 6, url: 'https://docs.astral.sh/ruff/rules/airflow3-removal',
      location: { row: 6, column: 50 }, end_location: { row: 6, column: 67 },
      fix: { applicability: 'safe', message: 'Use `schedule` instead', edits: [{ content: 'schedule', location: { row: 6, column: 50 }, end_location: { row: 6, column: 67 } }] },
    }, { code: null, filename: FILE, message: 'SyntaxError: x', location: { row: 1, column: 1 }, end_location: { row: 1, column: 1 }, fix: null }]));
    assert.equal(finding.rule, 'AIR301');
    assert.deepEqual(finding.start, { line: 6, column: 50 });
    assert.equal(finding.fix?.applicability, 'safe');
    assert.equal(staticFindingText(finding), 'AIR301 `schedule_interval` is removed in Airflow 3.0 (static: ruff) [safe fix (--fix applies it): Use `schedule` instead]');
  });

  it("applies its edits by row and column, leaving out one that overlaps another", () => {
    const text = 'from a import b\nDAG("x", schedule_interval="@daily")\n';
    const edits = [
      { content: 'schedule', start: { line: 2, column: 10 }, end: { line: 2, column: 27 } },
      { content: '', start: { line: 1, column: 1 }, end: { line: 2, column: 1 } },
      { content: 'nope', start: { line: 1, column: 3 }, end: { line: 1, column: 5 } },
    ];
    assert.equal(applyEdits(text, edits), 'DAG("x", schedule="@daily")\n');
  });

  it('counts columns in characters, not UTF-16 units', () => {
    assert.equal(applyEdits('x = "😀"; y = 1\n', [{ content: 'z', start: { line: 1, column: 10 }, end: { line: 1, column: 11 } }]), 'x = "😀"; z = 1\n');
  });
});

describe('the target applied to a runtime', () => {
  const files: Record<string, string> = { '/ws/dags/airflow-runtime.yaml': 'build:\n  context: ..\nenv:\n  A: "1"\n  B: "2"\n' };
  const current = () => resolveRuntime('/ws/dags/etl.py', { workspaceRoot: '/ws', readText: (file) => files[file], probe: fakeDisk('dags/', 'Dockerfile') });

  it('an image replaces the build it inherits, and says it came from the flag', () => {
    const target = withLayer(current(), imageTarget('airflow:3.3.2').layer);
    assert.equal(target.values.image, 'airflow:3.3.2');
    assert.equal(target.values.build, undefined);
    assert.deepEqual(target.sources.image, { kind: 'flag', flag: '--to' });
    assert.ok(current().values.build, 'the current runtime is left as it was');
  });

  it('a runtime file merges over everything, maps key by key', () => {
    const read = readRuntimeFile('/ws/target.yaml', 'image: airflow:3.3.2\nenv:\n  B: "3"\n', { workspaceRoot: '/ws', probe: fakeDisk('dags/', 'Dockerfile') });
    const target = withLayer(current(), fileLayer(read), read.problems);
    assert.deepEqual(target.values.env, { A: '1', B: '3' });
    assert.equal(target.values.image, 'airflow:3.3.2');
    assert.deepEqual(target.problems, []);
  });
});

describe('checkUpgrade over an engine', () => {
  const files: Record<string, string> = { '/ws/dags/airflow-runtime.yaml': 'image: airflow:2.11.2\n' };
  const runtimeOf = (file: string) => resolveRuntime(file, { workspaceRoot: '/ws', readText: (f) => files[f], probe: fakeDisk('dags/') });
  const engineOf = (kind: 'docker' | 'local', parse: (request: ParseRequest) => Promise<ParseResult>): Engine => ({
    kind, describe: () => kind, parse, run: async () => ({ exitCode: 0, durationMs: 0 }), testDag: async () => ({ exitCode: 0, durationMs: 0 }),
    render: async () => ({ exitCode: 0, fields: [], durationMs: 0 }), retireWarmRuntimes: () => 0, dispose: async () => undefined,
  });

  it('a target image that cannot be had is tried once, not once per file: every file is not checked, with its words', async () => {
    const asked: string[] = [];
    const engine = engineOf('docker', async (request) => {
      asked.push(`${request.runtime.values.image} ${request.dagFile}`);
      if (request.runtime.values.image === 'nope:1') throw new EngineError('image-missing', 'nope:1 is not on this engine');
      return result('2.11.2', []);
    });
    const report = await checkUpgrade(['/ws/dags/a.py', '/ws/dags/b.py', '/ws/dags/c.py'], { engine, runtimeOf, target: imageTarget('nope:1'), jobs: 1 });
    assert.deepEqual(asked, ['nope:1 /ws/dags/a.py']);
    assert.deepEqual(report.files.map((f) => [f.verdict, f.error?.code]), [['not-checked', 'image-missing'], ['not-checked', 'image-missing'], ['not-checked', 'image-missing']]);
  });

  it('on the local emulator, an image the emulator ran in the same interpreter is not checked, and says why', async () => {
    const engine = engineOf('local', async () => result('2.11.2', [dag('etl', [task('a')])]));
    const report = await checkUpgrade(['/ws/dags/a.py'], { engine, runtimeOf, target: imageTarget('airflow:3.3.2'), jobs: 1 });
    assert.equal(report.files[0].verdict, 'not-checked');
    assert.equal(report.files[0].error?.code, 'same-runtime');
    assert.match(report.files[0].error!.message, /same interpreter.*--engine docker/);
  });

  it('says each parse as it is done, both sides counted', async () => {
    const seen: string[] = [];
    const engine = engineOf('docker', async (request) => result(request.runtime.values.image === 'airflow:3.3.2' ? '3.3.2' : '2.11.2', []));
    await checkUpgrade(['/ws/dags/a.py', '/ws/dags/b.py'], { engine, runtimeOf, target: imageTarget('airflow:3.3.2'), jobs: 1, onParsed: (file, side, done, total) => seen.push(`${done}/${total} ${file.split('/').pop()} ${side}`) });
    assert.deepEqual(seen, ['1/4 a.py on airflow:3.3.2', '2/4 b.py on airflow:3.3.2', '3/4 a.py in its runtime', '4/4 b.py in its runtime']);
  });
});
