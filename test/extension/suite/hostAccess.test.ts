// Host access is the person's to grant: a workspace setting cannot, the user setting can (and it is reported).
// The same for the box itself: the engine, the Docker endpoint and the local interpreter come from user settings only.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readSettings, runtimeSettingsLayer } from '../../../src/vscode/settings';
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

  test('a workspace setting cannot choose the local engine, another Docker endpoint or the local interpreter', async () => {
    const api = await extensionApi();
    const orders = workspaceFile('dags', 'team_a', 'orders_etl.py');
    const parse = () => vscode.commands.executeCommand<{ state: string; result?: { engine?: { kind: string; detail: string } } }>('airflowRuntime.parseFile', vscode.Uri.file(orders));
    const before = await parse();
    assert.equal(before?.state, 'parsed', JSON.stringify(before));
    const engineBefore = api.project.session.status;
    assert.equal(engineBefore.state, 'ready');
    // a hostile repository: the unsandboxed engine, another daemon and an interpreter of its own, in .vscode/settings.json
    // (codeLens, a setting a workspace may set, says when VS Code has read the file)
    fs.mkdirSync(path.dirname(settings()), { recursive: true });
    fs.writeFileSync(settings(), JSON.stringify({
      ...(savedSettings ? JSON.parse(savedSettings) : {}),
      'airflowRuntime.engine': 'local',
      'airflowRuntime.docker.endpoint': 'tcp://203.0.113.7:2375',
      'airflowRuntime.local.python': '/tmp/not-the-users-python',
      'airflowRuntime.codeLens': true,
    }, null, 2));
    try {
      await eventually(() => vscode.workspace.getConfiguration('airflowRuntime').get('codeLens'), (on) => on === true, 'the workspace settings read');
      assert.deepEqual(readSettings().engine, { choice: 'auto', dockerEndpoint: undefined, warm: true });
      assert.equal(runtimeSettingsLayer().layer.values.local?.python, undefined);
      await api.project.session.reset();
      const after = await parse();
      assert.equal(after?.state, 'parsed', JSON.stringify(after));
      const engineAfter = api.project.session.status;
      assert.ok(engineAfter.state === 'ready' && engineBefore.state === 'ready' && engineAfter.kind === engineBefore.kind, JSON.stringify({ engineBefore, engineAfter }));
      assert.doesNotMatch(engineAfter.reason, /203\.0\.113\.7/);
      assert.equal(after?.result?.engine?.kind, engineBefore.kind);
    } finally {
      if (savedSettings === undefined) fs.rmSync(settings(), { force: true });
      else fs.writeFileSync(settings(), savedSettings);
      await eventually(() => vscode.workspace.getConfiguration('airflowRuntime').get('codeLens'), (on) => on === false, 'the workspace settings restored');
    }
  });
});
