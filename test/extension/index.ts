// The extension-host test entry (extensionTestsPath): mocha over the suites bundled beside this file.
// Suites named *.restricted.test.ts run in a restricted (untrusted) window; every other suite in a trusted one.
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';
import * as vscode from 'vscode';

export async function run(): Promise<void> {
  process.setSourceMapsEnabled(true);   // failures point at the .ts suites
  const trusted = vscode.workspace.isTrusted;
  const wanted = process.env.AIRFLOW_RUNTIME_TEST_WINDOW;
  if (wanted && wanted !== (trusted ? 'trusted' : 'restricted')) {
    throw new Error(`the runner asked for a ${wanted} window, but this window is ${trusted ? 'trusted' : 'restricted'}`);
  }
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 120_000, slow: 10_000, grep: process.env.AIRFLOW_RUNTIME_TEST_GREP });
  Mocha.interfaces.bdd(mocha.suite);   // suite/test and describe/it both work
  const suites = path.join(__dirname, 'suite');
  const files = fs.readdirSync(suites)
    .filter((name) => name.endsWith('.test.js') && name.endsWith('.restricted.test.js') === !trusted)
    .sort();
  console.log(`extension-host tests in a ${trusted ? 'trusted' : 'restricted'} window: ${files.join(', ') || 'none'}`);
  for (const name of files) mocha.addFile(path.join(suites, name));
  const failures = await new Promise<number>((resolve) => mocha.run(resolve));
  if (failures > 0) throw new Error(`${failures} extension-host test${failures === 1 ? '' : 's'} failed`);
}
