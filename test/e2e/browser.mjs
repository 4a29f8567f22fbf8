// Headless Debian chromium through playwright-core, for the UI tests and the extension-host test runner.
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { format } from 'node:util';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** A browser whose profile and caches live under `dir` (playwright gives each launch a fresh profile). */
export async function launchChromium(dir) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    env: { ...process.env, XDG_CONFIG_HOME: path.join(dir, 'chromium-config'), XDG_CACHE_HOME: path.join(dir, 'chromium-cache') },
  });
}

/**
 * Keeps every console message of the page in `file` and hands the extension host's own lines, formatted,
 * to `onExtensionHostLine(level, text)`. The workbench re-logs them as
 * console.log('%c INFO', 'color: #33f', format, ...args).
 */
export function recordConsole(page, file, onExtensionHostLine = () => {}) {
  let queue = Promise.resolve();   // argument values arrive asynchronously: keep the lines in order
  page.on('console', (message) => {
    const values = Promise.all(message.args().map((arg) => arg.jsonValue().catch(() => String(arg))));
    queue = queue.then(async () => {
      appendFileSync(file, `[${message.type()}] ${message.text()}\n`);
      const [tag, style, ...rest] = await values.catch(() => []);
      const level = typeof tag === 'string' && typeof style === 'string' && style.startsWith('color:') && /^%c +(INFO|ERR|WARN)$/.exec(tag.trim());
      if (level) onExtensionHostLine(level[1], format(...rest));
    });
  });
  page.on('pageerror', (error) => appendFileSync(file, `[pageerror] ${error.stack ?? error}\n`));
  return () => queue;
}
