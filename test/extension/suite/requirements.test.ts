// A runtime of `image` plus `requirements` in the editor: a line pip cannot read, and a requirement the build cannot
// install, each a diagnostic at its line of the requirements file; an edit of that file marks the DAG file stale.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { eventually, extensionApi, ourDiagnostics, workspaceFile } from './workspace';

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
});
