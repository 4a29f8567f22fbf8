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
