// A runtime of `image` plus `requirements` in the editor: a line pip cannot read, and a requirement the build cannot
// install, each a diagnostic at its line of the requirements file; an edit of that file marks the DAG file stale;
// the build's progress in the notification and the tree row, cancellable; pip's whole output in the log channel.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as vscode from 'vscode';
import type { Project } from '../../../src/vscode/project';
import { eventually, extensionApi, ourDiagnostics, workspaceFile } from './workspace';

const docker = (...args: string[]) => spawnSync('docker', ['-H', 'unix:///var/run/docker.sock', ...args], { encoding: 'utf8' });

/**
 * The extension's slow-work notifications as they are reported (the extension host's one `vscode` API object), and a
 * cancel that does what the notification's Cancel button does: the token the extension was given is cancelled.
 */
function observeNotifications(): { messages: string[]; cancel(): void; dispose(): void } {
  const messages: string[] = [];
  const tokens: vscode.CancellationTokenSource[] = [];
  const window = vscode.window as { withProgress: typeof vscode.window.withProgress };
  const original = window.withProgress;
  window.withProgress = (options, task) => original(options, (progress, token) => {
    const source = new vscode.CancellationTokenSource();
    token.onCancellationRequested(() => source.cancel());
    tokens.push(source);
    return task({ report: (value) => { if (value.message) messages.push(value.message); progress.report(value); } }, source.token);
  });
  return { messages, cancel: () => tokens.forEach((t) => t.cancel()), dispose: () => { window.withProgress = original; } };
}

/** The lines the extension writes to its log channel (the one "Show Log" opens) while `record` is on. */
function recordLog(project: Project): { lines: string[]; dispose(): void } {
  const lines: string[] = [];
  const log = project.log;
  const info = log.info.bind(log);
  log.info = (message: string, ...rest: unknown[]) => { lines.push(message); info(message, ...rest); };
  return { lines, dispose: () => { log.info = info; } };
}

suite('requirements', () => {
  const marker = `airflow-runtime-test-${process.pid}-${Date.now()}`;
  // a DAG file's own runtime file in a folder the window watches already: nothing else of the workspace changes
  let runtimeFile: string;
  let requirements: string;
  let dagFile: string;

  suiteSetup(async () => {
    await extensionApi();
    runtimeFile = workspaceFile('dags', 'team_b', 'needs_package.airflow-runtime.yaml');
    requirements = workspaceFile('dags', 'team_b', 'needs_package.requirements.txt');
    dagFile = workspaceFile('dags', 'team_b', 'needs_package.py');
    fs.writeFileSync(requirements, '# what the DAG needs\n--frobnicate\n');
    fs.writeFileSync(dagFile, 'import nothing_here  # airflow dag\n');
    fs.writeFileSync(runtimeFile, 'image: airflow-runtime-test/airflow:3.3.2\npull: never\nrequirements: needs_package.requirements.txt\n');
  });

  suiteTeardown(() => {
    for (const file of [runtimeFile, requirements, dagFile]) fs.rmSync(file, { force: true });
  });

  test('a line pip cannot read is a diagnostic at its line of the requirements file, gone when it is fixed', async () => {
    const at = await eventually(() => ourDiagnostics(requirements), (d) => d.length === 1, 'the requirements file\'s diagnostics', 30_000);
    assert.equal(at[0].range.start.line, 1);
    assert.match(at[0].message, /pip does not read the option "--frobnicate"/);
    fs.writeFileSync(requirements, `# what the DAG needs\nno-such-package-${marker}==1.0\n`);
    await eventually(() => ourDiagnostics(requirements), (d) => d.length === 0, 'the requirements file\'s diagnostics after the fix', 30_000);
  });

  test('a requirement the build cannot install is a diagnostic at its line; an edit of the file marks the DAG file stale', async function () {
    this.timeout(240_000);
    const api = await extensionApi();
    const parsed = await vscode.commands.executeCommand<{ state: string; failure?: { code: string } }>('airflowRuntime.parseFile', vscode.Uri.file(dagFile));
    assert.equal(parsed?.state, 'failed', JSON.stringify(parsed));
    assert.equal(parsed?.failure?.code, 'image-build-failed');
    const at = await eventually(() => ourDiagnostics(requirements), (d) => d.length === 1, 'the build failure at the requirement', 30_000);
    assert.equal(at[0].range.start.line, 1);
    assert.match(at[0].message, new RegExp(`pip: .*no-such-package-${marker}`));
    fs.writeFileSync(requirements, '# nothing needed after all\n');
    await eventually(() => api.project.parser.states.get(dagFile)?.stale, (stale) => stale === true, 'the DAG file marked stale by the requirements edit', 30_000);
    await eventually(() => ourDiagnostics(requirements), (d) => d.length === 0, 'the build failure gone with the edit', 30_000);
  });

  test('the build says "building the runtime (N of M requirements)" in the notification and the tree row; Cancel stops it', async function () {
    this.timeout(240_000);
    const api = await extensionApi();
    // two requirements new to this run (a marker of its own), so that the parse builds
    fs.writeFileSync(requirements, `inflection==0.5.1 ; platform_release != "${marker}-cancel"\nsix ; platform_release != "${marker}-cancel"\n`);
    await eventually(() => api.project.parser.states.get(dagFile)?.stale, (stale) => stale === true, 'the DAG file stale after the edit', 30_000);
    const notifications = observeNotifications();
    const log = recordLog(api.project);
    try {
      const parsed = vscode.commands.executeCommand('airflowRuntime.parseFile', vscode.Uri.file(dagFile));
      const building = /^building the runtime \([0-2] of 2 requirements\)$/;
      await eventually(() => notifications.messages, (m) => m.some((message) => building.test(message)), 'the notification', 120_000);
      const row = await eventually(() => String(api.tree.getTreeItem({ kind: 'dagFile', id: `file/${dagFile}`, file: dagFile }).description), (d) => /building the runtime \([0-2] of 2 requirements\)/.test(d), 'the tree row', 30_000);
      assert.match(row, /^airflow-runtime-test\/airflow:3\.3\.2 · building the runtime/);
      notifications.cancel();
      await parsed;
      assert.ok(log.lines.includes(`parse of ${dagFile} cancelled`), log.lines.join('\n'));
      assert.equal(api.project.parser.states.get(dagFile)?.parsing, false);
      // the build's container is gone, and it made no image
      const containers = () => docker('ps', '-a', '-q', '--filter', `label=airflow-runtime.build-step=${os.hostname()}:${process.pid}`).stdout.trim();
      await eventually(containers, (ids) => ids === '', 'the build step\'s container removed', 30_000);
      const built = docker('image', 'ls', '--filter', 'label=airflow-runtime.built-from', '--format', '{{index .Labels "airflow-runtime.built-from"}}').stdout;
      assert.ok(!built.split('\n').some((label) => label.includes(requirements)), 'no image of the cancelled build');
    } finally {
      notifications.dispose();
      log.dispose();
    }
  });

  test('pip\'s whole output is in the log channel ("Show Log"), each line once', async function () {
    this.timeout(240_000);
    const api = await extensionApi();
    fs.writeFileSync(requirements, `inflection==0.5.1 ; platform_release != "${marker}-log"\n`);
    await eventually(() => api.project.parser.states.get(dagFile)?.stale, (stale) => stale === true, 'the DAG file stale after the edit', 30_000);
    const log = recordLog(api.project);
    try {
      const parsed = await vscode.commands.executeCommand<{ state: string }>('airflowRuntime.parseFile', vscode.Uri.file(dagFile));
      assert.ok(parsed?.state !== 'failed', JSON.stringify(parsed));
      const collecting = log.lines.filter((line) => /^build \| Collecting inflection==0\.5\.1/.test(line));
      assert.equal(collecting.length, 1, log.lines.join('\n'));
      assert.ok(log.lines.some((line) => /^build \| Successfully installed inflection-0\.5\.1/.test(line)), log.lines.join('\n'));
    } finally {
      log.dispose();
      for (const tag of docker('image', 'ls', '--filter', 'label=airflow-runtime.built-from', '--format', '{{.Repository}}:{{.Tag}}').stdout.split('\n').filter(Boolean)) {
        const label = docker('image', 'inspect', '--format', '{{index .Config.Labels "airflow-runtime.built-from"}}', tag).stdout;
        if (label.includes(requirements)) docker('rmi', '-f', tag); // this test's image only
      }
    }
  });
});
