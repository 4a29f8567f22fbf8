// The same extension-host suites in desktop VS Code through @vscode/test-electron, for machines that can
// download VS Code (this workplace cannot: there, `npm run test:extension` runs them in code-server).
// Usage: npm run build && node test/extension/electron.mjs   (VSCODE_VERSION, default 1.100.3, the engines floor;
// VSCODE_EXECUTABLE to use an installed VS Code instead of downloading one)
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { copyExamples, REPO, scratch } from '../../scripts/start.mjs';

const TESTS = path.join(REPO, 'dist', 'test', 'extension');
const suites = readdirSync(path.join(TESTS, 'suite')).filter((name) => name.endsWith('.test.js'));
const windows = ['trusted', 'restricted'].filter((window) => suites.some((name) => name.endsWith('.restricted.test.js') === (window === 'restricted')));

let failed = 0;
for (const window of windows) {
  const { root, remove } = scratch(`airflow-runtime-electron-${window}-`);
  try {
    const workspace = copyExamples(path.join(root, 'examples'));
    const userData = path.join(root, 'user-data');
    mkdirSync(path.join(userData, 'User'), { recursive: true });
    writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify({ 'security.workspace.trust.startupPrompt': 'never' }));
    await runTests({
      version: process.env.VSCODE_VERSION || '1.100.3',
      vscodeExecutablePath: process.env.VSCODE_EXECUTABLE || undefined,
      extensionDevelopmentPath: REPO,
      extensionTestsPath: path.join(TESTS, 'index.js'),
      extensionTestsEnv: { AIRFLOW_RUNTIME_TEST_WINDOW: window },
      launchArgs: [workspace, '--user-data-dir', userData, '--extensions-dir', path.join(root, 'extensions'), '--disable-extensions',
        ...(window === 'trusted' ? ['--disable-workspace-trust'] : [])],
    });
  } catch (error) {
    console.error(`${window} window: ${error instanceof Error ? error.message : error}`);
    failed++;
  } finally {
    remove();
  }
}
process.exit(failed ? 1 : 0);
