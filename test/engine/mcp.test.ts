/**
 * `airflow-runtime mcp` through the official SDK's client over stdio, against the built CLI: the tools and their
 * schemas, a parse's import error at its line, a task run for real (local emulator and Docker) with its exception at
 * its line, secrets redacted, paths outside the project refused as tool errors, cancellation leaving nothing
 * running, and the server ending when its input closes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { CLI, dockerProblem, image, needs, ourContainers, scratchWorkspace, venvPython, venvProblem } from './support';

const VERSION = '2.11.2';
const SECRET = 'pw-9f3c-never-shown';
const SLEEP_MARKER = `700.${process.pid}`;

const RUNTIME = [
  `image: ${image(VERSION)}`,
  'pull: never',
  'local:',
  `  python: ${venvPython(VERSION)}`,
  'connections:',
  '  partner_api:',
  '    conn_type: http',
  '    host: api.partner.example',
  '    login: me',
  `    password: ${SECRET}`,
  '',
].join('\n');

const BAD_IMPORT = [
  'from datetime import datetime',
  'from airflow import DAG',
  '',
  'import not_a_module_anywhere',
  '',
  'with DAG(dag_id="never", schedule=None, start_date=datetime(2024, 1, 1)):',
  '    pass',
  '',
].join('\n');

const TASKS = [
  'from datetime import datetime',
  'from airflow.decorators import dag, task',
  '',
  '@dag(schedule=None, start_date=datetime(2024, 1, 1))',
  'def tasks():',
  '    @task',
  '    def leak():',
  '        from airflow.hooks.base import BaseHook',
  '        print("PASSWORD IS", BaseHook.get_connection("partner_api").password)',
  '',
  '    @task',
  '    def explode():',
  '        raise ValueError("the feed is empty")',
  '',
  '    @task',
  '    def hang():',
  '        import subprocess',
  `        subprocess.run(["sleep", "${SLEEP_MARKER}"])`,
  '',
  '    leak() >> explode()',
  '    hang()',
  '',
  'tasks()',
  '',
].join('\n');

const TWO_FAILURES = [
  'from datetime import datetime',
  'from airflow.decorators import dag, task',
  '',
  '@dag(schedule=None, start_date=datetime(2024, 1, 1))',
  'def two_failures():',
  '    @task',
  '    def first():',
  '        raise KeyError("region")',
  '',
  '    @task',
  '    def second():',
  '        raise RuntimeError("the warehouse is closed")',
  '',
  '    @task',
  '    def after_first():',
  '        pass',
  '',
  '    first() >> after_first()',
  '    second()',
  '',
  'two_failures()',
  '',
].join('\n');

async function connect(ws: string, engine: string): Promise<{ client: Client; transport: StdioClientTransport; stderr: () => string }> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== 'DOCKER_HOST' && key !== 'DOCKER_CONTEXT') env[key] = value;
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', '--engine', engine], cwd: ws, env, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk) => (stderr += chunk));
  const client = new Client({ name: 'mcp-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport, stderr: () => stderr };
}

function textOf(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

async function call(client: Client, name: string, args: Record<string, unknown>, options: { signal?: AbortSignal; onprogress?: (p: { message?: string }) => void } = {}): Promise<CallToolResult & { structuredContent?: Record<string, unknown> }> {
  return await client.callTool({ name, arguments: args }, undefined, { timeout: 600_000, ...options }) as CallToolResult & { structuredContent?: Record<string, unknown> };
}

function processesOf(marker: string): string[] {
  return execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((line) => line.includes(marker) && !line.includes('ps -eo'));
}

async function until(done: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 100));
}

describe('mcp server, local emulator', { ...needs(venvProblem()), timeout: 600_000 }, () => {
  const ws = scratchWorkspace('mcp', { 'dags/airflow-runtime.yaml': RUNTIME, 'dags/bad_import.py': BAD_IMPORT, 'dags/tasks.py': TASKS, 'dags/two_failures.py': TWO_FAILURES });
  const outside = scratchWorkspace('mcp-outside', { 'dags/elsewhere.py': TASKS });
  symlinkSync(path.join(outside, 'dags'), path.join(ws, 'linked'));
  let server: Awaited<ReturnType<typeof connect>>;

  before(async () => {
    server = await connect(ws, 'local');
  });
  after(async () => {
    await server?.client.close();
  });

  it('lists the six tools, each with a JSON Schema for its input', async () => {
    const { tools } = await server.client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['list_dag_files', 'parse_dag_file', 'render_task', 'resolve_runtime', 'run_task', 'test_dag']);
    for (const tool of tools) {
      assert.equal(tool.inputSchema.type, 'object', tool.name);
      assert.ok(tool.description && tool.description.length > 40, tool.name);
    }
    const run = tools.find((t) => t.name === 'run_task')!;
    assert.deepEqual(run.inputSchema.required, ['dagFile', 'dagId', 'taskId']);
    assert.deepEqual(Object.keys(run.inputSchema.properties ?? {}).sort(), ['dagFile', 'dagId', 'date', 'mapIndex', 'taskId']);
    assert.equal(run.annotations?.readOnlyHint, false);
    assert.equal(tools.find((t) => t.name === 'parse_dag_file')!.annotations?.readOnlyHint, true);
  });

  it('list_dag_files names the DAG files and their runtimes', async () => {
    const result = await call(server.client, 'list_dag_files', {});
    assert.ok(!result.isError, textOf(result));
    assert.match(textOf(result), /dags\/tasks\.py: image airflow-runtime-test\/airflow:2\.11\.2, local python .* \(from dags\/airflow-runtime\.yaml\)/);
    const files = (result.structuredContent!.files as { file: string }[]).map((f) => f.file);
    assert.deepEqual(files, ['dags/bad_import.py', 'dags/tasks.py', 'dags/two_failures.py']);
  });

  it('parse_dag_file gives an import error at its file:line, and the structured result', async () => {
    const result = await call(server.client, 'parse_dag_file', { path: 'dags/bad_import.py' });
    assert.ok(!result.isError, textOf(result));
    assert.match(textOf(result), /^dags\/bad_import\.py: does not import \(1 error\)/);
    assert.match(textOf(result), /^dags\/bad_import\.py:4:1: error: ModuleNotFoundError: No module named 'not_a_module_anywhere'$/m);
    const structured = result.structuredContent!;
    assert.equal(structured.ok, false);
    assert.equal(structured.airflowVersion, VERSION);
    const problems = structured.problems as { file: string; line: number; severity: string; code: string }[];
    assert.deepEqual(problems.map(({ file, line, severity, code }) => ({ file, line, severity, code })), [{ file: 'dags/bad_import.py', line: 4, severity: 'error', code: 'import-error' }]);
  });

  it('parse_dag_file of a good file gives its DAG, tasks and edges', async () => {
    const result = await call(server.client, 'parse_dag_file', { path: 'dags/tasks.py' });
    assert.ok(!result.isError, textOf(result));
    assert.match(textOf(result), /imports cleanly/);
    assert.match(textOf(result), /^DAG tasks \(dags\/tasks\.py:\d+\): schedule None, 3 tasks$/m);
    assert.match(textOf(result), /^ {2}leak \(@task\) at dags\/tasks\.py:\d+ >> explode$/m);
    const dags = (result.structuredContent!.result as { dags: { dagId: string; tasks: { taskId: string }[]; serialized?: unknown }[] }).dags;
    assert.deepEqual(dags.map((d) => [d.dagId, d.tasks.map((t) => t.taskId).sort()]), [['tasks', ['explode', 'hang', 'leak']]]);
    assert.equal(dags[0].serialized, undefined);
  });

  it('run_task runs a failing task for real and gives its exception at its line', async () => {
    const result = await call(server.client, 'run_task', { dagFile: 'dags/tasks.py', dagId: 'tasks', taskId: 'explode' });
    assert.ok(!result.isError, textOf(result));
    assert.match(textOf(result), /^tasks\.explode: failed in [\d.]+s/);
    assert.match(textOf(result), /^dags\/tasks\.py:13:1: error: ValueError: the feed is empty \(in explode\)$/m);
    const structured = result.structuredContent!;
    assert.equal(structured.state, 'failed');
    assert.deepEqual(structured.exception, { message: 'ValueError: the feed is empty', file: 'dags/tasks.py', line: 13, function: 'explode' });
    assert.ok((structured.log as { lines: string[] }).lines.length > 0);
  });

  it('test_dag gives each task\'s state, and each failed task\'s own exception at its line', async () => {
    const result = await call(server.client, 'test_dag', { dagFile: 'dags/two_failures.py', dagId: 'two_failures' });
    assert.ok(!result.isError, textOf(result));
    const text = textOf(result);
    assert.match(text, /^two_failures: failed in [\d.]+s/);
    assert.match(text, /^ {2}after_first: upstream failed$/m, text);
    assert.match(text, /^ {2}first: dags\/two_failures\.py:8:1: error: KeyError: 'region' \(in first\)$/m, text);
    assert.match(text, /^ {2}second: dags\/two_failures\.py:12:1: error: RuntimeError: the warehouse is closed \(in second\)$/m, text);
    const errors = result.structuredContent!.errors as Array<{ task: string; exception: { line: number } }>;
    assert.deepEqual(errors.map((e) => [e.task, e.exception.line]).sort(), [['first', 8], ['second', 12]]);
  });

  it('run_task of a task that prints a connection password: success, the password redacted in its log', async () => {
    const result = await call(server.client, 'run_task', { dagFile: 'dags/tasks.py', dagId: 'tasks', taskId: 'leak', date: '2024-03-01' });
    assert.ok(!result.isError, textOf(result));
    assert.match(textOf(result), /^tasks\.leak: success/);
    assert.match(textOf(result), /PASSWORD IS \*\*\*/);
    assert.doesNotMatch(JSON.stringify(result), new RegExp(SECRET));
  });

  it('resolve_runtime shows where each value came from, the connection password as ***', async () => {
    const result = await call(server.client, 'resolve_runtime', { dagFile: 'dags/tasks.py' });
    assert.ok(!result.isError, textOf(result));
    assert.match(textOf(result), /password: "\*\*\*"/);
    assert.match(textOf(result), /image: airflow-runtime-test\/airflow:2\.11\.2 # dags\/airflow-runtime\.yaml:1/);
    const runtime = result.structuredContent!.runtime as { connections: Record<string, { password: string }> };
    assert.equal(runtime.connections.partner_api.password, '***');
    assert.doesNotMatch(JSON.stringify(result), new RegExp(SECRET));
  });

  for (const [what, given] of [['a relative path that climbs out', '../../../etc/passwd'], ['an absolute path', '/etc/hosts'], ['a symlink that leads out', 'linked/elsewhere.py']]) {
    it(`${what} is refused as a tool error that says what to do`, async () => {
      const result = await call(server.client, 'parse_dag_file', { path: given });
      assert.equal(result.isError, true, textOf(result));
      assert.match(textOf(result), /is outside the project .*: refused\nWhat to do: name a path inside the project/);
      assert.doesNotMatch(textOf(result), /\n\s+at /, 'no stack trace');
      assert.equal((result.structuredContent!.error as { code: string }).code, 'refused');
    });
  }

  it('bad input is a tool error that names the field', async () => {
    const result = await call(server.client, 'run_task', { dagFile: 'dags/tasks.py', dagId: 'tasks' });
    assert.equal(result.isError, true);
    assert.match(textOf(result), /bad input for run_task: .*taskId/);
  });

  it('cancelling a long run_task stops its process tree', async () => {
    const controller = new AbortController();
    const running = call(server.client, 'run_task', { dagFile: 'dags/tasks.py', dagId: 'tasks', taskId: 'hang' }, { signal: controller.signal });
    await until(() => processesOf(SLEEP_MARKER).length > 0, 120_000);
    assert.ok(processesOf(SLEEP_MARKER).length > 0, 'the task started');
    controller.abort();
    await assert.rejects(running);
    await until(() => processesOf(SLEEP_MARKER).length === 0);
    assert.deepEqual(processesOf(SLEEP_MARKER), []);
  });

  it('closing its input ends the server', async () => {
    const other = await connect(ws, 'local');
    const pid = other.transport.pid!;
    assert.ok(pid);
    await other.client.close();
    await until(() => processesOf(`${CLI} mcp`).every((line) => !line.includes(String(pid))) && !isAlive(pid));
    assert.equal(isAlive(pid), false);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('mcp server, Docker engine', { ...needs(dockerProblem()), timeout: 600_000 }, () => {
  const ws = scratchWorkspace('mcp-docker', { 'dags/airflow-runtime.yaml': RUNTIME, 'dags/tasks.py': TASKS });
  let server: Awaited<ReturnType<typeof connect>>;

  before(async () => {
    server = await connect(ws, 'docker');
  });
  after(async () => {
    await server?.client.close();
  });

  it(`run_task runs a failing task in ${image(VERSION)} and gives its exception at its host line`, async () => {
    const messages: string[] = [];
    const result = await call(server.client, 'run_task', { dagFile: 'dags/tasks.py', dagId: 'tasks', taskId: 'explode' }, { onprogress: (p) => p.message && messages.push(p.message) });
    assert.ok(!result.isError, textOf(result));
    assert.match(textOf(result), /^tasks\.explode: failed in [\d.]+s \[docker/);
    assert.deepEqual(result.structuredContent!.exception, { message: 'ValueError: the feed is empty', file: 'dags/tasks.py', line: 13, function: 'explode' });
  });

  it('cancelling a long run_task leaves no container', async () => {
    const controller = new AbortController();
    const dagFile = path.join(ws, 'dags', 'tasks.py');
    const running = call(server.client, 'run_task', { dagFile: 'dags/tasks.py', dagId: 'tasks', taskId: 'hang' }, { signal: controller.signal });
    await until(() => processesOf(SLEEP_MARKER).length > 0, 120_000);
    assert.ok(processesOf(SLEEP_MARKER).length > 0, 'the task started');
    controller.abort();
    await assert.rejects(running);
    await until(() => ourContainers(dagFile).length === 0 && processesOf(SLEEP_MARKER).length === 0);
    assert.deepEqual(ourContainers(dagFile), []);
    assert.deepEqual(processesOf(SLEEP_MARKER), []);
  });
});
