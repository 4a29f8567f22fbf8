// Smoke: the extension loads in a real extension host and its runtime-file validation reaches the Problems.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

const EXTENSION_ID = 'airflow-runtime.airflow-runtime-isolation';

function workspaceRoot(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the test window has no workspace folder');
  return folder.uri.fsPath;
}

/** Resolves with the diagnostics of `uri` once `accept` likes them; fails after `timeoutMs`. */
function diagnosticsOf(uri: vscode.Uri, accept: (diagnostics: vscode.Diagnostic[]) => boolean, timeoutMs = 15_000): Promise<vscode.Diagnostic[]> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const diagnostics = vscode.languages.getDiagnostics(uri);
      if (!accept(diagnostics)) return false;
      done();
      resolve(diagnostics);
      return true;
    };
    const listener = vscode.languages.onDidChangeDiagnostics((event) => {
      if (event.uris.some((changed) => changed.toString() === uri.toString())) check();
    });
    const timer = setTimeout(() => {
      done();
      reject(new Error(`diagnostics of ${uri.fsPath} after ${timeoutMs} ms: ${JSON.stringify(vscode.languages.getDiagnostics(uri).map((d) => d.message))}`));
    }, timeoutMs);
    const done = () => {
      listener.dispose();
      clearTimeout(timer);
    };
    check();
  });
}

suite('smoke', () => {
  test('the extension is installed from the development path and activates', async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is not loaded`);
    await extension.activate();
    assert.equal(extension.isActive, true);
  });

  test('a runtime file with an unknown key gets a diagnostic at that key, with a did-you-mean', async () => {
    const file = path.join(workspaceRoot(), 'dags', 'team_a', 'smoke_check.airflow-runtime.yaml');
    fs.writeFileSync(file, '# written by the smoke test\nimagee: airflow-runtime-test/airflow:2.11.2\n');
    try {
      const uri = vscode.Uri.file(file);
      await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
      const ours = (d: vscode.Diagnostic) => d.source === 'airflow-runtime';
      const problem = (await diagnosticsOf(uri, (diagnostics) => diagnostics.some(ours))).find(ours)!;
      assert.equal(problem.severity, vscode.DiagnosticSeverity.Error);
      assert.equal(problem.range.start.line, 1);
      assert.equal(problem.range.start.character, 0);
      assert.match(problem.message, /unknown key "imagee"; did you mean "image"\?/);
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      fs.rmSync(file, { force: true });
    }
  });
});
