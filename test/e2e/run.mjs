// `npm run test:e2e`: a person's first minutes with the extension, in headless chromium against the VS Code
// that `npm start` serves (code-server with the packaged .vsix installed), on a fresh copy of examples/.
// Every step leaves a screenshot in test-results/e2e/. Env: AIRFLOW_RUNTIME_KEEP_TEST_DIRS=1 keeps the temp folder.
/* global window, MutationObserver */   // evaluate bodies run in the graph's frame
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { copyExamples, ensureCodeServer, freePort, installedCodeServer, packageExtension, REPO, scratch, startCodeServer } from '../../scripts/start.mjs';
import { launchChromium, recordConsole } from './browser.mjs';
import { activityBarItem, clickAtLine, editorLines, openFile, runCommand, viewRows, watchRowDescriptions } from './workbench.mjs';

const RESULTS = path.join(REPO, 'test-results', 'e2e');
const IMAGE_2 = 'airflow-runtime-test/airflow:2.11.2';
const IMAGE_3 = 'airflow-runtime-test/airflow:3.3.2';
const buildReportLine = 13;   // regional_reports.py: @task above def build_report
const t0 = Date.now();
const secs = () => ((Date.now() - t0) / 1000).toFixed(1);
const log = (line) => console.log(`[e2e ${secs()}s] ${line}`);

rmSync(RESULTS, { recursive: true, force: true });
mkdirSync(RESULTS, { recursive: true });
const bin = ensureCodeServer(log);
log('building and packaging the extension');
const vsix = packageExtension();
const { root, remove } = scratch('airflow-runtime-e2e-');
const workspace = copyExamples(path.join(root, 'examples'));
const dirs = installedCodeServer(bin, path.join(root, 'code-server'), vsix);
log(`installed ${path.basename(vsix)}; workspace ${workspace}`);
// a runtime file with a typo, there before the workbench opens (Quick Open finds files it has indexed)
const typoRuntimeFile = path.join(workspace, 'dags', 'team_a', 'customer_metrics.airflow-runtime.yaml');
writeFileSync(typoRuntimeFile, 'imgae: airflow-runtime-test/airflow:2.11.2\n');
// a task with locals to look at under the debugger
writeFileSync(path.join(workspace, 'dags', 'team_a', 'debug_me.py'), [
  'from datetime import datetime', 'from airflow.decorators import dag, task', '',
  '@dag(schedule=None, start_date=datetime(2024, 1, 1), tags=["team-a"])', 'def debug_me():',
  '    @task', '    def total_orders():', '        orders = [12, 7, 23]', '        total = sum(orders)', '        print(f"total {total}")', '        return total',
  '', '    total_orders()', '', 'debug_me()', '',
].join('\n'));
const debugTaskLine = 6;        // debug_me.py: @task above def total_orders
const debugBreakpointLine = 10; // print(f"total {total}")

let server;
let browser;
const cleanup = async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  if (process.env.AIRFLOW_RUNTIME_KEEP_TEST_DIRS) log(`kept ${root}`);
  else remove();
};
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => void cleanup().finally(() => process.exit(130)));

const results = [];
let shot = 0;
let page;
/** One step of the scenario: its screenshot is taken whether it passes or not; a failed step does not stop the next. */
async function step(name, body) {
  const started = Date.now();
  let error;
  try {
    await body();
  } catch (caught) {
    error = caught;
  }
  const file = path.join(RESULTS, `${String(++shot).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`);
  await page?.screenshot({ path: file }).catch(() => {});
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  results.push({ name, ok: !error, seconds, file });
  log(`${error ? 'FAIL' : 'ok  '} ${name} (${seconds} s) ${path.relative(REPO, file)}${error ? `\n       ${String(error.message ?? error).split('\n').join('\n       ')}` : ''}`);
  return !error;
}

let exitCode = 1;
try {
  server = await startCodeServer({ bin, dirs, port: await freePort(), folder: workspace });
  log(`code-server on ${server.url} (pid ${server.pid})`);
  browser = await launchChromium(root);
  page = await (await browser.newContext({ viewport: { width: 1400, height: 850 } })).newPage();
  recordConsole(page, path.join(RESULTS, 'browser-console.log'));

  await step('the workbench opens the examples and asks whether to trust them', async () => {
    await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: /Yes, I trust the authors/ }).waitFor({ timeout: 60_000 });
  });

  // parse and run execute DAG code: they need a trusted workspace, as a person grants it
  await step('the person trusts the folder', async () => {
    await page.getByRole('button', { name: /Yes, I trust the authors/ }).click();
    await page.locator('.monaco-dialog-box').waitFor({ state: 'detached', timeout: 15_000 });
  });

  await step('the Airflow view lists the DAG files with their images', async () => {
    await activityBarItem(page, 'Airflow').click();
    // a wider side bar, so that the screenshot shows the images beside the file names
    const sidebar = await page.locator('.part.sidebar').boundingBox();
    await page.mouse.move(sidebar.x + sidebar.width - 1, sidebar.y + 300);
    await page.mouse.down();
    await page.mouse.move(sidebar.x + sidebar.width + 200, sidebar.y + 300, { steps: 5 });
    await page.mouse.up();
    await page.mouse.move(900, 400);
    const expected = { 'orders_etl.py': IMAGE_2, 'customer_metrics.py': IMAGE_2, 'regional_reports.py': IMAGE_3, 'inventory_sync.py': IMAGE_3 };
    const rows = await viewRows(page, 'DAG Files', Object.keys(expected), 60_000);
    for (const [file, image] of Object.entries(expected)) {
      const row = rows.find((r) => r.label === file);
      if (!row) throw new Error(`no row for ${file}; rows: ${JSON.stringify(rows)}`);
      // the whole reference (whose image it is), as the runtime file names it
      const shown = row.description.split(' · ')[0];
      if (shown !== image) throw new Error(`${file} shows "${row.description}", not its image ${image}`);
    }
  });

  // regional_reports.py is the first file of the Airflow 3.3.2 runtime: opening it starts that runtime
  await step('starting a runtime shows its stage in a notification and in the tree row', async () => {
    // the stage lasts seconds: what the row says is recorded as it changes, not read once at a moment of ours
    const row = await watchRowDescriptions(page, 'DAG Files', 'regional_reports.py');
    await openFile(page, 'regional_reports.py');
    const toast = page.locator('.notifications-toasts .notification-toast', { hasText: /starting airflow-runtime-test\/airflow:3\.3\.2/ }).first();
    await toast.waitFor({ timeout: 60_000 });
    // its Cancel button, while the notification is up (it closes when the runtime has started)
    const cancellable = await poll(async () => (await toast.locator('.monaco-button, .action-label', { hasText: /Cancel/ }).count()) > 0, 3_000, 100);
    const staged = await poll(async () => (await row.seen()).some((description) => /starting airflow|parsing/.test(description)), 30_000, 100);
    const seen = await row.seen();
    await row.stop();
    if (!staged) throw new Error(`the row said only ${JSON.stringify(seen)}`);
    if (!cancellable) throw new Error('the notification cannot be cancelled');
  });

  await step('the mapped task build_report asks which map index to run', async () => {
    await page.locator('.notifications-toasts .notification-toast', { hasText: /starting airflow-runtime-test/ }).first().waitFor({ state: 'detached', timeout: 180_000 });
    const icons = () => editorLines(page, '.testing-run-glyph');
    if (!(await poll(async () => (await icons()).includes(buildReportLine), 120_000))) throw new Error(`run icons at ${await icons()}, none at ${buildReportLine}`);
    await clickAtLine(page, '.testing-run-glyph', buildReportLine);
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 30_000 });
    await page.locator('.quick-input-widget', { hasText: /which map index/ }).waitFor({ timeout: 10_000 });
    await input.fill('1');
  });

  await step('map index 1 of build_report runs after list_regions, and passes', async () => {
    await page.keyboard.press('Enter');
    const passed = async () => (await editorLines(page, '.codicon-testing-passed-icon')).includes(buildReportLine);
    if (!(await poll(passed, 240_000))) throw new Error(`build_report did not pass (passed at ${await editorLines(page, '.codicon-testing-passed-icon')})`);
  });

  await step('a misspelt key in a runtime file has a quick fix, and it fixes it', async () => {
    await openFile(page, 'customer_metrics.airflow-runtime.yaml');
    if (!(await poll(async () => (await editorLines(page, '.squiggly-error')).includes(1), 30_000))) throw new Error('no squiggle at line 1');
    await page.locator('.editor-group-container.active .monaco-editor .view-lines').click();
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('Control+.');
    const fix = page.locator('.action-widget .monaco-list-row, .context-view .action-item', { hasText: 'Change to "image"' }).first();
    await fix.waitFor({ timeout: 15_000 });
    await page.screenshot({ path: path.join(RESULTS, `${String(shot + 1).padStart(2, '0')}-a-the-quick-fix-menu.png`) });
    await page.keyboard.press('Enter');   // the first fix is focused
    const firstLine = () => page.locator('.editor-group-container.active .monaco-editor .view-line').first().innerText();
    if (!(await poll(async () => (await firstLine()).startsWith('image:'), 15_000))) throw new Error(`line 1 reads "${await firstLine()}"`);
    if (!(await poll(async () => (await editorLines(page, '.squiggly-error')).length === 0, 15_000))) throw new Error('the squiggle is still there');
    rmSync(typoRuntimeFile, { force: true });
  });

  await step('the broken DAG file gets a squiggle at line 6 and the Problems count', async () => {
    await openFile(page, 'inventory_sync.py');
    const squiggleAt6 = async () => (await editorLines(page, '.squiggly-error')).includes(6);
    // parse on open produces it; the command forces it if the extension waits for a save
    if (!(await poll(squiggleAt6, 20_000))) await runCommand(page, 'Airflow: Parse DAG File');
    if (!(await poll(squiggleAt6, 120_000))) throw new Error(`no error squiggle at line 6 (squiggles at ${await editorLines(page, '.squiggly-error')})`);
    const problems = await page.locator('.statusbar-item[id="status.problems"]').innerText();
    const errors = Number(/(\d+)/.exec(problems)?.[1] ?? 0);
    if (errors < 1) throw new Error(`the status bar says "${problems}"`);
    await page.keyboard.press('Control+Shift+M');   // show the Problems panel in the screenshot
    await page.locator('.markers-panel .monaco-list-row', { hasText: /pandas/ }).first().waitFor({ timeout: 10_000 });
  });

  const extractLine = 23;   // extract = BashOperator(task_id="extract", …)
  await step('orders_etl.py has a run icon in the gutter at each task', async () => {
    await page.keyboard.press('Control+Shift+M');   // hide the Problems panel again
    await openFile(page, 'orders_etl.py');
    const taskLines = [22, 23, 24, 25];
    const icons = () => editorLines(page, '.testing-run-glyph');
    const everyTask = async () => {
      const lines = await icons();
      return taskLines.every((line) => lines.includes(line));
    };
    if (!(await poll(everyTask, 120_000))) {
      throw new Error(`run icons at lines ${await icons()}, not at every task (${taskLines})`);
    }
  });

  await step('clicking the run icon of extract runs it in its runtime, and it passes', async () => {
    await clickAtLine(page, '.testing-run-glyph', extractLine);
    const passed = async () => (await editorLines(page, '.codicon-testing-passed-icon')).includes(extractLine);
    if (!(await poll(passed, 180_000))) {
      throw new Error(`the gutter icon at line ${extractLine} did not turn to passed (passed at ${await editorLines(page, '.codicon-testing-passed-icon')})`);
    }
    // one task's result is not the DAG's: the DAG's line keeps its run icon
    const dagLine = 14;   // with DAG(
    if ((await editorLines(page, '.codicon-testing-passed-icon')).includes(dagLine)) throw new Error(`one task's run turned the DAG's icon (line ${dagLine}) to passed`);
  });

  await step('a breakpoint in a task and Debug: the editor pauses there, in the runtime, with the variables', async () => {
    await openFile(page, 'debug_me.py');
    if (!(await poll(async () => (await editorLines(page, '.testing-run-glyph')).includes(debugTaskLine), 120_000))) throw new Error('no run icon at the task');
    const goTo = async (line) => {
      await page.keyboard.press('Control+G');
      await page.locator('.quick-input-widget input').fill(`:${line}`);
      await page.keyboard.press('Enter');
    };
    await goTo(debugBreakpointLine);
    await page.keyboard.press('F9');
    if (!(await poll(async () => (await editorLines(page, '.codicon-debug-breakpoint')).includes(debugBreakpointLine), 10_000))) throw new Error('no breakpoint drawn');
    await goTo(debugTaskLine);
    await runCommand(page, 'Test: Debug Test at Cursor');
    const paused = async () => (await editorLines(page, '.codicon-debug-stackframe')).includes(debugBreakpointLine);
    if (!(await poll(paused, 180_000))) throw new Error(`not paused at line ${debugBreakpointLine}`);
    await page.keyboard.press('Control+Shift+D');   // Run and Debug: the Variables view
    await page.locator('.debug-pane .monaco-list-row', { hasText: /total\s*[:=]?\s*42/ }).first().waitFor({ timeout: 30_000 });
  });

  await step('continue: the debugged task passes', async () => {
    await runCommand(page, 'Debug: Continue');
    await page.keyboard.press('Control+Shift+E');
    await openFile(page, 'debug_me.py');
    const passed = async () => (await editorLines(page, '.codicon-testing-passed-icon')).includes(debugTaskLine);
    if (!(await poll(passed, 120_000))) throw new Error('the debugged task did not pass');
    // once, not again: "Debug Test at Cursor" names the task and its file, and the task runs one time
    const status = () => page.locator('.statusbar-item', { hasText: 'Airflow:' }).first().innerText();
    if (!(await poll(async () => !(await status()).includes('running'), 30_000))) throw new Error(`the status bar still says "${await status()}"`);
    // and the debug session ends with the program
    if (!(await poll(async () => !(await page.locator('.debug-toolbar').isVisible()), 30_000))) throw new Error('the debug session is still on after the task ended');
  });

  // The graph webview is two iframes deep: VS Code's host frame, then the page of the panel.
  const graphFrame = () => page.frameLocator('iframe.webview.ready').last().frameLocator('iframe#active-frame');
  const graphStates = () => graphFrame().locator('g.task').evaluateAll((nodes) => nodes.map((n) => /state-(\S+)/.exec(n.getAttribute('class'))?.[1] ?? 'none'));
  /** Each task node's lines as the browser drew them (its own text boxes): those over another or outside their node. */
  const nodeTextOverlaps = (duration) => graphFrame().locator('g.task').evaluateAll((nodes, duration) => nodes.flatMap((node) => {
    if (duration) node.querySelector('.duration').textContent = duration;
    const box = node.querySelector('.box').getBBox();
    const lines = ['label', 'operator', 'duration'].map((name) => [name, node.querySelector(`.${name}`)]).filter(([, el]) => el.textContent).map(([name, el]) => [name, el.textContent, el.getBBox()]);
    const apart = (a, b) => a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
    const inside = (a) => a.x >= box.x && a.y >= box.y && a.x + a.width <= box.x + box.width && a.y + a.height <= box.y + box.height;
    const found = [];
    lines.forEach(([name, text, a], n) => {
      if (!inside(a)) found.push(`${node.dataset.task}: "${text}" (${name}) leaves its node`);
      for (const [other, otherText, b] of lines.slice(n + 1)) if (!apart(a, b)) found.push(`${node.dataset.task}: "${text}" (${name}) over "${otherText}" (${other})`);
    });
    return found;
  }), duration);

  await step('Show Graph above customer_metrics draws its tasks and its task group', async () => {
    await page.keyboard.press('Escape');
    await openFile(page, 'customer_metrics.py');
    const lens = page.locator('.editor-group-container.active .codelens-decoration a', { hasText: 'Show Graph' }).first();
    await lens.waitFor({ timeout: 120_000 });
    await lens.click();
    await graphFrame().locator('g.frame', { hasText: 'metrics' }).waitFor({ timeout: 60_000 });
    const tasks = await graphFrame().locator('g.task .label').evaluateAll((labels) => labels.map((label) => label.textContent));
    if (tasks.sort().join() !== 'count,fetch_customers,longest_name,publish') throw new Error(`the graph draws ${tasks}`);
    if (await graphFrame().locator('.edges path').count() !== 4) throw new Error('not 4 edges');
  });

  await step("the graph's CSP blocks a remote load in the browser", async () => {
    const blocked = await graphFrame().locator('body').evaluate((body) => new Promise((resolve) => {
      const img = body.ownerDocument.createElement('img');
      const done = (what) => { img.remove(); resolve(what); };
      body.ownerDocument.addEventListener('securitypolicyviolation', (event) => done(`${event.violatedDirective} ${event.blockedURI}`), { once: true });
      img.src = 'https://example.com/tracker.png';
      body.appendChild(img);
      setTimeout(() => done('loaded'), 5000);
    }));
    if (!/^(img-src|default-src) https:\/\/example\.com/.test(blocked)) throw new Error(`a remote image was not blocked: ${blocked}`);
  });

  await step('Run DAG from the graph: the states fill in as the tasks run', async () => {
    // every state the nodes show is recorded as it is painted (a poll of ours could fall between two paints)
    await graphFrame().locator('svg').first().evaluate((svg) => {
      const seen = (window.__paintedStates = []);
      const record = () => seen.push([...svg.querySelectorAll('g.task')].map((n) => /state-(\S+)/.exec(n.getAttribute('class'))?.[1] ?? 'none'));
      new MutationObserver(record).observe(svg, { subtree: true, attributes: true, attributeFilter: ['class'] });
    });
    await graphFrame().locator('button#run').click();
    for (const [prompt, value] of [[/logical date/, /^\d{4}-\d\d-\d\d$/], [/conf \(2\/2\)/, /^\{\}$/]]) {
      await page.locator('.quick-input-widget', { hasText: prompt }).waitFor({ timeout: 15_000 });
      const input = page.locator('.quick-input-widget input');
      if (!(await poll(async () => value.test(await input.inputValue()), 10_000, 100))) throw new Error(`the prompt ${prompt} shows "${await input.inputValue()}"`);
      await input.press('Enter');
    }
    // some tasks done, some not yet: the run is seen in progress
    const inProgress = (states) => states.includes('running') || (states.includes('success') && states.some((s) => s !== 'success'));
    const painted = () => graphFrame().locator('svg').first().evaluate(() => window.__paintedStates);
    if (!(await poll(async () => (await painted()).some(inProgress), 180_000, 100))) {
      throw new Error(`never painted in progress: ${JSON.stringify((await painted()).slice(-8))}`);
    }
  });

  await step('the DAG run ends: every task of the graph succeeded', async () => {
    if (!(await poll(async () => (await graphStates()).every((s) => s === 'success'), 180_000))) throw new Error(`states ${await graphStates()}`);
    const summary = await graphFrame().locator('#summary').innerText();
    if (summary !== '4 success') throw new Error(`the summary says "${summary}"`);
    const overlaps = await nodeTextOverlaps();
    if (overlaps.length) throw new Error(overlaps.join('; '));
  });

  await step("orders_etl's graph: no operator name runs into a run's duration, however long", async () => {
    await openFile(page, 'orders_etl.py');
    const lens = page.locator('.editor-group-container.active .codelens-decoration a', { hasText: 'Show Graph' }).first();
    await lens.waitFor({ timeout: 120_000 });
    await lens.click();
    await graphFrame().locator('g.task', { hasText: 'BashOperator' }).first().waitFor({ timeout: 60_000 });
    // the longest duration a node shows ("59 min 59 s"), in every node, beside EmptyOperator, BashOperator, PythonOperator
    const overlaps = await nodeTextOverlaps('59 min 59 s');
    if (overlaps.length) throw new Error(overlaps.join('; '));
  });

  const memory = { codeServer: treeMemory(server.pid), chromium: treeMemory(process.pid, /chrom/) };

  // The parses above left warm runtimes up (containers labelled with this workspace's path, which no other
  // work shares). Their owner is the extension host: killed with -9, it cannot stop them; they must end
  // by themselves (their attached stdin closes with it).
  await step('kill -9 of the extension host: its warm runtimes end by themselves', async () => {
    const ours = () => spawnSync('docker', ['ps', '-a', '--filter', 'label=airflow-runtime.managed=true', '--format', '{{.ID}} {{.Label "airflow-runtime.owner"}} {{.Label "airflow-runtime.dag-file"}} {{.Status}}'], { encoding: 'utf8' })
      .stdout.split('\n').filter((line) => line.includes(workspace)).map((line) => line.split(' '));
    if (!(await poll(async () => ours().length > 0, 30_000))) throw new Error('no warm runtime of this workspace is up: nothing to test');
    const owners = [...new Set(ours().map(([, owner]) => Number(owner.split(':').pop())))];
    for (const pid of owners) {
      if (!descendantsOf(server.pid).includes(pid)) throw new Error(`owner ${pid} is not a process of this code-server`);
      process.kill(pid, 'SIGKILL');
    }
    log(`killed extension host ${owners.join(', ')} with ${ours().length} warm runtime(s) up`);
    // code-server starts a new extension host, which parses the open files again: its runtimes are not the dead one's
    const orphans = () => ours().filter(([, owner]) => owners.includes(Number(owner.split(':').pop())));
    if (!(await poll(async () => orphans().length === 0, 30_000))) throw new Error(`still there 30 s after kill -9 of their owner: ${orphans().map((fields) => fields.join(' '))}`);
  });
  log(`memory (PSS): code-server and its extension hosts ${memory.codeServer.pssMiB} MiB in ${memory.codeServer.processes} processes; chromium ${memory.chromium.pssMiB} MiB in ${memory.chromium.processes}`);
  exitCode = results.every((r) => r.ok) ? 0 : 1;
} catch (error) {
  log(`FAILED: ${error.stack ?? error}`);
} finally {
  log(`${results.filter((r) => r.ok).length} of ${results.length} steps passed; screenshots in ${path.relative(REPO, RESULTS)}/`);
  await cleanup();
}
process.exit(exitCode);

function descendantsOf(rootPid) {
  const children = new Map();
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // gone
    }
  }
  const out = [];
  for (const queue = [rootPid]; queue.length;) {
    const pid = queue.shift();
    for (const child of children.get(pid) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/** PSS of a process and its descendants (those whose command matches `only`, if given), from /proc. */
function treeMemory(rootPid, only) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // gone
    }
  }
  let kib = 0;
  let processes = 0;
  for (const queue = [rootPid]; queue.length;) {
    const pid = queue.shift();
    queue.push(...(children.get(pid) ?? []));
    try {
      if (only && !only.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) continue;
      kib += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))[1]);
      processes++;
    } catch {
      // gone
    }
  }
  return { pssMiB: Math.round(kib / 1024), processes };
}

async function poll(check, timeoutMs, everyMs = 500) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return true;
    if (Date.now() > end) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
