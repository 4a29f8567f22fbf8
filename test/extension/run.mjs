// `npm run test:extension`: the mocha suites of test/extension in a real VS Code extension host (code-server),
// the way @vscode/test-electron runs them where VS Code can be downloaded (test/extension/electron.mjs).
// Two windows, each on a fresh copy of examples/: a trusted one for *.test.ts, and a restricted one
// (Workspace Trust on, the folder not trusted) for *.restricted.test.ts.
// The workbench loads the extension from extensionDevelopmentPath (this checkout) and the tests from
// extensionTestsPath (the bundle in dist/test), and calls window.codeAutomationExit(code) when they end.
// Env: AIRFLOW_RUNTIME_TEST_GREP (mocha grep), AIRFLOW_RUNTIME_TEST_WINDOWS (`trusted`, `restricted` or both, comma-separated:
// the windows to open; default both), AIRFLOW_RUNTIME_KEEP_TEST_DIRS=1, TEST_TIMEOUT_MS.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { copyExamples, dataDirs, ensureCodeServer, freePort, REPO, scratch, startCodeServer, writeUserSettings } from '../../scripts/start.mjs';
import { launchChromium, recordConsole } from '../e2e/browser.mjs';

const TESTS = path.join(REPO, 'dist', 'test', 'extension');
const TIMEOUT = Number(process.env.TEST_TIMEOUT_MS) || 15 * 60_000;
const t0 = Date.now();
const log = (line) => console.log(`[test:extension ${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let stopCurrent = async () => {};
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => void stopCurrent().finally(() => process.exit(130)));
}

/** Runs the suites of one window; resolves with the exit code the workbench reported. */
async function runWindow(bin, window) {
  const { root, remove } = scratch(`airflow-runtime-exthost-${window}-`);
  const dirs = dataDirs(path.join(root, 'code-server'));
  const workspace = copyExamples(path.join(root, 'examples'));
  writeUserSettings(dirs, {
    'security.workspace.trust.startupPrompt': 'never',   // the restricted window opens without asking
    'security.workspace.trust.untrustedFiles': 'open',
  });
  const port = await freePort();
  let server;
  let browser;
  stopCurrent = async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
    remove();
  };
  try {
    server = await startCodeServer({
      bin, dirs, port,
      disableWorkspaceTrust: window === 'trusted',     // as @vscode/test-electron users do: everything trusted
      env: { AIRFLOW_RUNTIME_TEST_WINDOW: window },     // the extension host inherits it; index.ts checks it
    });
    log(`${window} window: code-server on ${server.url} (pid ${server.pid}), workspace ${workspace}`);
    browser = await launchChromium(root);
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 850 } })).newPage();
    const flushConsole = recordConsole(page, path.join(root, 'browser-console.log'), (level, text) => {
      // the workbench's own chatter (connections, the unreachable marketplace, start-up timings) is not ours
      if (/^(Resolv|Creating|Updating|Creation of workbench contribution|\[Service|ChatSession)|open-vsx|ENOTFOUND/.test(text)) return;
      (level === 'INFO' ? console.log : console.error)(text.replace(/\n$/, ''));
    });
    const exited = new Promise((resolve) => void page.exposeFunction('codeAutomationExit', (code) => resolve(Number(code))));
    const remote = (file) => `vscode-remote://127.0.0.1:${port}${file}`;
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', remote(REPO)],
      ['extensionTestsPath', remote(path.join(TESTS, 'index.js'))],
    ]);
    await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(payload)}`);
    const code = await Promise.race([exited, server.exited.then(() => 'code-server exited'), sleep(TIMEOUT).then(() => 'timeout')]);
    await flushConsole();
    if (typeof code !== 'number') {
      log(`${window} window: ${code}; code-server log ${dirs.log}, browser console ${path.join(root, 'browser-console.log')}`);
      return 1;
    }
    log(`${window} window: tests exited with ${code}`);
    return code;
  } finally {
    await browser?.close().catch(() => {});
    await server?.stop();
    if (process.env.AIRFLOW_RUNTIME_KEEP_TEST_DIRS) log(`kept ${root}`);
    else remove();
  }
}

if (!existsSync(path.join(TESTS, 'index.js'))) {
  console.error('dist/test/extension/index.js is missing: run `npm run build` first');
  process.exit(2);
}
const bin = ensureCodeServer(log);
const suites = readdirSync(path.join(TESTS, 'suite')).filter((name) => name.endsWith('.test.js'));
const wantedWindows = (process.env.AIRFLOW_RUNTIME_TEST_WINDOWS || 'trusted,restricted').split(',').map((w) => w.trim());
const windows = ['trusted', 'restricted']
  .filter((window) => wantedWindows.includes(window))
  .filter((window) => suites.some((name) => name.endsWith('.restricted.test.js') === (window === 'restricted')));
let failed = 0;
for (const window of windows) {
  if ((await runWindow(bin, window)) !== 0) failed++;
}
log(failed ? `${failed} of ${windows.length} windows failed` : `all suites passed (${windows.join(' and ')} windows)`);
process.exit(failed ? 1 : 0);
