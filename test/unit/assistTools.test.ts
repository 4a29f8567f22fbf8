/** The assistant tools over a fake engine: what a model reads, what is refused, and how failures come back. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { BoundedLog } from '../../src/core/assist/boundedLog';
import { projectPath } from '../../src/core/assist/projectPaths';
import { callTool, TOOL_SPECS, type ToolHost } from '../../src/core/assist/tools';
import { EngineError } from '../../src/core/engine/errors';
import type { ParseResult } from '../../src/core/harness/parseResult';
import type { Engine } from '../../src/core/engine/types';
import type { EffectiveRuntime } from '../../src/core/runtime/resolve';

function project(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'assist-tools-'));
  mkdirSync(path.join(root, 'dags'));
  writeFileSync(path.join(root, 'dags', 'etl.py'), 'from airflow import DAG\n');
  return root;
}

function hostWith(root: string, engine: Partial<Engine>, runtime: Partial<EffectiveRuntime> = {}): ToolHost {
  return {
    root,
    runtimeOf: (dagFile) => ({ dagFile, workspaceRoot: root, values: {}, sources: {}, files: [], problems: [], hostAccess: { allowed: false }, ...runtime }),
    dagFilesUnder: () => [path.join(root, 'dags', 'etl.py')],
    engine: async () => ({ engine: engine as Engine, reason: 'fake engine; with no sandbox' }),
  };
}

const RESULT = (root: string): ParseResult => ({
  format: 'airflow-runtime/parse-result@1', file: path.join(root, 'dags/etl.py'), airflowVersion: '2.11.2', pythonVersion: '3.11.2', durationMs: 5,
  dags: [],
  importErrors: [{ file: path.join(root, 'dags/etl.py'), line: 5, column: 1, message: "ModuleNotFoundError: No module named 'pandas'", traceback: 'Traceback...' }],
  warnings: [
    { file: path.join(root, 'dags/etl.py'), line: 2, category: 'DeprecationWarning', message: 'mine' },
    { file: path.join(root, 'dags/etl.py'), line: 1, category: 'DeprecationWarning', message: 'inside flask', internal: true },
  ],
});

describe('assistant tools', () => {
  it('every tool has an object schema that refuses unknown fields', () => {
    for (const spec of TOOL_SPECS) {
      assert.equal(spec.inputSchema.type, 'object');
      assert.equal(spec.inputSchema.additionalProperties, false);
    }
    assert.deepEqual(TOOL_SPECS.filter((s) => s.runsTasks).map((s) => s.name), ['run_task', 'test_dag']);
  });

  it('parse_dag_file: the import error at path:line:col relative to the project, internal warnings left out of the text', async () => {
    const root = project();
    const result = await callTool('parse_dag_file', { path: 'dags/etl.py' }, hostWith(root, { parse: async () => RESULT(root) }));
    assert.equal(result.isError, undefined);
    assert.match(result.text, /^dags\/etl\.py: does not import \(1 error\) \[Airflow 2\.11\.2, Python 3\.11\.2; fake engine\]$/m);
    assert.match(result.text, /^dags\/etl\.py:5:1: error: ModuleNotFoundError: No module named 'pandas'$/m);
    assert.match(result.text, /^dags\/etl\.py:2:1: warning: DeprecationWarning: mine$/m);
    assert.doesNotMatch(result.text, /inside flask/);
    assert.match(result.text, /1 warning raised inside Airflow or libraries left out/);
    assert.equal(result.structured.ok, false);
  });

  it('an engine failure is a tool error with what to do, and no stack', async () => {
    const root = project();
    const fail = async () => {
      throw new EngineError('engine-unreachable', 'Docker is not reachable at unix:///var/run/docker.sock', 'start Docker, or use the local engine');
    };
    const result = await callTool('parse_dag_file', { path: 'dags/etl.py' }, hostWith(root, { parse: fail }));
    assert.equal(result.isError, true);
    assert.equal(result.text, 'Docker is not reachable at unix:///var/run/docker.sock\nWhat to do: start Docker, or use the local engine');
    assert.deepEqual(result.structured.error, { code: 'engine-unreachable', message: 'Docker is not reachable at unix:///var/run/docker.sock', whatToDo: 'start Docker, or use the local engine' });
  });

  it('a runtime file with errors refuses the work at its line', async () => {
    const root = project();
    const problem = { file: path.join(root, 'dags/airflow-runtime.yaml'), start: { line: 3, column: 1 }, end: { line: 3, column: 6 }, severity: 'error', code: 'unknown-key', message: 'unknown key "imgae"' };
    const result = await callTool('run_task', { dagFile: 'dags/etl.py', dagId: 'etl', taskId: 'x' }, hostWith(root, {}, { problems: [problem as never] }));
    assert.equal(result.isError, true);
    assert.match(result.text, /^dags\/airflow-runtime\.yaml:3:1: error: unknown key "imgae"$/m);
    assert.match(result.text, /What to do: fix the runtime files at those lines/);
  });

  it('unknown tools and bad input are tool errors', async () => {
    const root = project();
    assert.match((await callTool('rm_rf', {}, hostWith(root, {}))).text, /no tool named "rm_rf"/);
    assert.match((await callTool('run_task', { dagFile: 'dags/etl.py', dagId: 'etl', taskId: 'x', date: 'yesterday' }, hostWith(root, {}))).text, /bad input for run_task: \/date must match pattern/);
  });
});

describe('paths an assistant names', () => {
  it('inside the project: absolute against its root', () => {
    const root = project();
    assert.equal(projectPath(root, 'dags/etl.py'), path.join(root, 'dags/etl.py'));
    assert.equal(projectPath(root, path.join(root, 'dags')), path.join(root, 'dags'));
  });

  it('outside, by climbing, by an absolute path or through a symlink: refused', () => {
    const root = project();
    const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'assist-elsewhere-'));
    symlinkSync(elsewhere, path.join(root, 'dags', 'linked'));
    for (const given of ['../x.py', '/etc/hosts', 'dags/linked/new.py']) assert.throws(() => projectPath(root, given), /outside the project/, given);
  });
});

describe('a bounded log', () => {
  it('keeps the end and says how much of the start was left out', () => {
    const log = new BoundedLog(3, 1000);
    for (let i = 1; i <= 10; i++) log.push(`line ${i}`);
    assert.equal(log.text(), '[7 earlier lines left out; the last 3 follow]\nline 8\nline 9\nline 10');
    assert.deepEqual(log.summary(), { lines: ['line 8', 'line 9', 'line 10'], totalLines: 10, truncated: true });
  });

  it('holds to its character budget', () => {
    const log = new BoundedLog(100, 25);
    for (let i = 0; i < 10; i++) log.push('0123456789');
    assert.deepEqual(log.kept(), ['0123456789', '0123456789']);
  });
});

describe('the editor\'s language-model tools', () => {
  it('package.json contributes each tool with the same name, description and input schema as the MCP server', () => {
    const manifest = JSON.parse(readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as { contributes: { languageModelTools: { name: string; modelDescription: string; inputSchema: unknown }[] } };
    assert.deepEqual(manifest.contributes.languageModelTools.map(({ name, modelDescription, inputSchema }) => ({ name, modelDescription, inputSchema })),
      TOOL_SPECS.map(({ name, description, inputSchema }) => ({ name, modelDescription: description, inputSchema })));
  });
});
