// Host access is the person's to grant: a workspace setting cannot, the user setting can (and it is reported).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { eventually, extensionApi, ourDiagnostics, workspaceFile } from './workspace';

suite('host access', () => {
  const file = () => workspaceFile('dags', 'team_a', 'host_access_check.airflow-runtime.yaml');
  const settings = () => workspaceFile('.vscode', 'settings.json');
  let savedSettings: string | undefined;

  suiteSetup(async () => {
    await extensionApi();
    savedSettings = fs.existsSync(settings()) ? fs.readFileSync(settings(), 'utf8') : undefined;
  });

  suiteTeardown(async () => {
    await vscode.workspace.getConfiguration('airflowRuntime').update('allowHostAccess', undefined, vscode.ConfigurationTarget.Global);
    fs.rmSync(file(), { force: true });
    if (savedSettings === undefined) fs.rmSync(settings(), { force: true });
    else fs.writeFileSync(settings(), savedSettings);
  });

  test('a workspace setting that grants host access is ignored; the user setting grants it', async () => {
    // a hostile repository: a mount of / and the grant in its own .vscode/settings.json
    fs.mkdirSync(path.dirname(settings()), { recursive: true });
    fs.writeFileSync(settings(), JSON.stringify({ ...(savedSettings ? JSON.parse(savedSettings) : {}), 'airflowRuntime.allowHostAccess': true }, null, 2));
    fs.writeFileSync(file(), 'mounts:\n  - source: /\n    target: /host_root\n    readOnly: false\n');
    const kinds = () => ourDiagnostics(file()).filter((d) => d.code === 'host-access').map((d) => [d.range.start.line, d.severity]);
    await eventually(kinds, (k) => k.length === 1 && k[0][1] === vscode.DiagnosticSeverity.Error, 'the refusal of the workspace\'s own grant');
    assert.match(ourDiagnostics(file())[0].message, /a runtime file cannot open the host by itself/);

    await vscode.workspace.getConfiguration('airflowRuntime').update('allowHostAccess', true, vscode.ConfigurationTarget.Global);
    await eventually(kinds, (k) => k.length === 1 && k[0][1] === vscode.DiagnosticSeverity.Warning, 'the user\'s grant, reported');
    assert.match(ourDiagnostics(file()).find((d) => d.code === 'host-access')!.message, /allowed by the user setting airflowRuntime\.allowHostAccess$/);
  });
});
