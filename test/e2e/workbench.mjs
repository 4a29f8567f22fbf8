// What a person does in the workbench, as playwright calls: the DOM of VS Code 1.100 (code-server 4.100.3).
/* global document, window, MutationObserver */   // page.evaluate bodies run in the browser

/** The activity-bar entry of a view container, by its title. */
export function activityBarItem(page, title) {
  return page.locator(`.part.activitybar .action-item .action-label[aria-label^="${title}"]`).first();
}

/**
 * Opens a workspace file by name through Quick Open (Ctrl+P) and waits for its editor tab. The row of that very
 * file is clicked (Enter takes whatever row is first, a recently opened file of a like name); a workbench busy
 * with something else (a debug session ending) may swallow the first try, so it tries twice.
 */
export async function openFile(page, name) {
  for (let attempt = 1; ; attempt++) {
    try {
      await page.keyboard.press('Escape');
      await page.keyboard.press('Control+P');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ timeout: 15_000 });
      await input.fill(name);
      const row = page.locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) }).first();
      await row.waitFor({ timeout: 30_000 });
      await row.click();
      await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: attempt === 1 ? 15_000 : 30_000 });
      break;
    } catch (error) {
      if (attempt === 2) throw error;
    }
  }
  await page.locator('.editor-group-container.active .monaco-editor .view-lines').waitFor({ timeout: 30_000 });
}

/** Runs a command by its title from the command palette (F1). */
export async function runCommand(page, title) {
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: 15_000 });
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 15_000 });
  await page.keyboard.press('Enter');
}

/**
 * The rows of a view (by its pane title) once every one of `labels` shows; collapsed rows are expanded on the
 * way (folders of a tree). Each row: { label, description, level, expanded }.
 */
export async function viewRows(page, paneTitle, labels, timeoutMs) {
  // the header of the only view of a container is hidden (the container's title names it), but still there
  const pane = page.locator('.pane', { has: page.locator(`.pane-header[aria-label^="${paneTitle}"]`) }).first();
  const header = pane.locator('.pane-header').first();
  await header.waitFor({ state: 'attached', timeout: timeoutMs });
  if ((await header.isVisible()) && (await header.getAttribute('aria-expanded')) === 'false') await header.click();
  await pane.locator('.pane-body').waitFor({ timeout: timeoutMs });
  const end = Date.now() + timeoutMs;
  let rows = [];
  for (;;) {
    rows = await pane.locator('.monaco-list-row').evaluateAll((elements) => elements.map((row) => ({
      label: row.querySelector('.label-name')?.textContent?.trim() ?? row.textContent.trim(),
      description: row.querySelector('.label-description')?.textContent?.trim() ?? '',
      level: Number(row.getAttribute('aria-level') ?? 0),
      expanded: row.getAttribute('aria-expanded'),
    })));
    if (labels.every((label) => rows.some((row) => row.label === label))) return rows;
    if (Date.now() > end) return rows;
    // expand folders (rows that do not name a file) that are still collapsed
    const collapsed = pane.locator('.monaco-list-row[aria-expanded="false"]').filter({ hasNotText: /\.py\b/ });
    if (await collapsed.count()) await collapsed.first().click();
    else await page.waitForTimeout(500);
  }
}

/**
 * The 1-based line numbers of the active editor at which an element matching `selector` is drawn
 * (squiggles, gutter icons), found by position against the line numbers. The matches get a
 * data-airflow-line attribute, so that a test can click the one at a line.
 */
export function editorLines(page, selector) {
  return page.evaluate((selector) => {
    const editor = document.querySelector('.editor-group-container.active .monaco-editor');
    if (!editor) return [];
    const numbers = [...editor.querySelectorAll('.margin-view-overlays .line-numbers')].map((element) => {
      const box = element.getBoundingClientRect();
      return { line: Number(element.textContent.trim()), top: box.top, bottom: box.bottom };
    });
    const lines = new Set();
    // the editor re-uses its glyph elements for other lines as it re-renders: no mark of an earlier call may stay
    for (const element of editor.querySelectorAll('[data-airflow-line]')) element.removeAttribute('data-airflow-line');
    for (const element of editor.querySelectorAll(selector)) {
      const box = element.getBoundingClientRect();
      const middle = (box.top + box.bottom) / 2;
      const hit = numbers.find((n) => middle >= n.top && middle < n.bottom);
      if (!hit) continue;
      element.setAttribute('data-airflow-line', String(hit.line));
      lines.add(hit.line);
    }
    return [...lines].sort((a, b) => a - b);
  }, selector);
}

/**
 * Records every description the row `label` of a view shows from now on (a MutationObserver in the page), so a
 * state that lasts a second is seen however busy the machine is. Returns { seen(), stop() }.
 */
export async function watchRowDescriptions(page, paneTitle, label) {
  const key = `__rowDescriptions_${Math.random().toString(36).slice(2)}`;
  await page.evaluate(({ paneTitle, label, key }) => {
    const seen = [];
    const record = () => {
      const pane = [...document.querySelectorAll('.pane')].find((p) => p.querySelector(`.pane-header[aria-label^="${paneTitle}"]`));
      const row = [...(pane?.querySelectorAll('.monaco-list-row') ?? [])].find((r) => r.querySelector('.label-name')?.textContent?.trim() === label);
      const description = row?.querySelector('.label-description')?.textContent?.trim();
      if (description !== undefined && seen.at(-1) !== description) seen.push(description);
    };
    record();
    const observer = new MutationObserver(record);
    observer.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    window[key] = { seen, stop: () => observer.disconnect() };
  }, { paneTitle, label, key });
  return {
    seen: () => page.evaluate((key) => window[key].seen, key),
    stop: () => page.evaluate((key) => window[key].stop(), key),
  };
}

/**
 * Clicks the element matching `selector` (a gutter icon) drawn at `line` of the active editor, once the editor has
 * stopped moving (a panel closing re-lays it out, and its elements are re-used for other lines as it does).
 */
export async function clickAtLine(page, selector, line) {
  const layout = () => page.evaluate(() => [...document.querySelectorAll('.editor-group-container.active .monaco-editor .margin-view-overlays .line-numbers')]
    .map((element) => `${element.textContent.trim()}@${Math.round(element.getBoundingClientRect().top)}`).join(','));
  let last = await layout();
  for (let settled = 0; settled < 2;) {
    await page.waitForTimeout(250);
    const now = await layout();
    settled = now === last ? settled + 1 : 0;
    last = now;
  }
  if (!(await editorLines(page, selector)).includes(line)) throw new Error(`no ${selector} at line ${line}`);
  await page.locator(`.editor-group-container.active .monaco-editor ${selector}[data-airflow-line="${line}"]`).first().click();
}
