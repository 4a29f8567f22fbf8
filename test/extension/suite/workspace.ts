// Shared by the extension-host suites: the extension's API, the workspace copy, and waiting for diagnostics.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { AirflowRuntimeApi } from '../../../src/extension';
import type { TaskRunReport } from '../../../src/vscode/testing';

export const EXTENSION_ID = 'airflow-runtime.airflow-runtime-isolation';

export async function extensionApi(): Promise<AirflowRuntimeApi> {
  const extension = vscode.extensions.getExtension<AirflowRuntimeApi>(EXTENSION_ID);
  assert.ok(extension, `${EXTENSION_ID} is not loaded`);
  const api = await extension.activate();
  await api.project.scan();
  return api;
}

/** A path in the test window's workspace (a fresh copy of examples/). */
export function workspaceFile(...parts: string[]): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the test window has no workspace folder');
  return path.join(folder.uri.fsPath, ...parts);
}

/** Resolves once `accept` likes the value `read` returns; fails with the last value after `timeoutMs`. */
export async function eventually<T>(read: () => T, accept: (value: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (accept(value)) return value;
    if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(value, null, 1)?.slice(0, 2000)} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function ourDiagnostics(file: string): vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(vscode.Uri.file(file)).filter((d) => d.source === 'airflow-runtime');
}

/** Parses the DAG file, then runs one task from the Testing view, as the gutter icon does; its report. */
export async function runTask(file: string, dagId: string, taskId: string): Promise<TaskRunReport> {
  const api = await extensionApi();
  const parsed = await vscode.commands.executeCommand<{ state: string }>('airflowRuntime.parseFile', vscode.Uri.file(file));
  assert.equal(parsed?.state, 'parsed', JSON.stringify(parsed));
  const item = api.testing.taskItem(file, dagId, taskId);
  assert.ok(item, `no test item for ${dagId}.${taskId}`);
  const reported = new Promise<TaskRunReport>((resolve) => {
    const listener = api.testing.onDidRunTask((report) => {
      if (report.taskId !== taskId) return;
      listener.dispose();
      resolve(report);
    });
  });
  await api.testing.runItems([item]);
  return reported;
}

/** The states each test run gave each item (by id), in order: what VS Code's Test Results and gutter icons are made of. */
export function recordTestRuns(controller: vscode.TestController): { runs: Array<Array<[string, string]>>; dispose(): void } {
  const runs: Array<Array<[string, string]>> = [];
  const original = controller.createTestRun;
  const states = new Set(['enqueued', 'started', 'passed', 'failed', 'errored', 'skipped']);
  controller.createTestRun = (...args: Parameters<typeof original>) => {
    const run = original.apply(controller, args);
    const calls: Array<[string, string]> = [];
    runs.push(calls);
    return new Proxy(run, {
      get(target, property) {
        const value = Reflect.get(target, property) as unknown;
        if (typeof value !== 'function') return value;
        if (typeof property === 'string' && states.has(property)) {
          return (item: vscode.TestItem, ...rest: unknown[]) => {
            calls.push([property, item.id]);
            return (value as (...a: unknown[]) => unknown).call(target, item, ...rest);
          };
        }
        return (value as (...a: unknown[]) => unknown).bind(target);
      },
    });
  };
  return { runs, dispose: () => { controller.createTestRun = original; } };
}

/** The test item whose gutter icon is on a line of a file: the one with that range (a DAG's line, a task's line). */
export function gutterItemAt(controller: vscode.TestController, file: string, line0: number): vscode.TestItem | undefined {
  let found: vscode.TestItem | undefined;
  const visit = (item: vscode.TestItem) => {
    if (item.uri?.fsPath === file && item.range?.start.line === line0) found ??= item;
    item.children.forEach(visit);
  };
  controller.items.forEach(visit);
  return found;
}

/**
 * The state VS Code draws for an item after a run: its own last state, or the worst of its descendants' (a parent's
 * icon is computed from its children), as vscode's testing `statePriority` ranks them; undefined when the run gave
 * neither.
 */
export function drawnState(calls: Array<[string, string]>, item: vscode.TestItem): string | undefined {
  const priority: Record<string, number> = { skipped: 1, passed: 2, enqueued: 3, failed: 4, errored: 5, started: 6 };
  const ids = new Set<string>();
  const visit = (node: vscode.TestItem) => { ids.add(node.id); node.children.forEach(visit); };
  visit(item);
  const last = new Map<string, string>();
  for (const [state, id] of calls) if (ids.has(id)) last.set(id, state);
  // a run that ended leaves nothing queued or running
  const states = [...last.values()].filter((state) => state !== 'enqueued' && state !== 'started');
  return states.sort((a, b) => priority[b] - priority[a])[0];
}
