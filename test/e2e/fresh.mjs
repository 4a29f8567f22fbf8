// `npm run test:fresh`: the README's main command on a machine where nothing was made yet, as a person types it.
// `npm start` runs with a cache of its own (no venv, no uv, no harness DB) and code-server data of its own, on a
// copy of examples/, twice: with Docker reachable but none of the examples' images anywhere (their names are
// changed to ones no engine or registry has: a laptop with Docker and no access to the team's registry), and
// with Docker unreachable (DOCKER_HOST at a closed port). Each time it must say "ready", and the editor it serves
// must parse orders_etl.py (its tasks' run icons appear in the gutter) without any other command.
// Prints the time from `npm start` to "ready" and to the first parsed DAG, for the README.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { copyExamples, freePort, REPO, scratch } from '../../scripts/start.mjs';
import { launchChromium, recordConsole } from './browser.mjs';
import { editorLines, openFile } from './workbench.mjs';

const RESULTS = path.join(REPO, 'test-results', 'fresh');
mkdirSync(RESULTS, { recursive: true });
const t0 = Date.now();
const log = (line) => console.log(`[fresh ${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const marker = `fresh${process.pid}${Date.now()}`;

/** Every runtime file of the copy names an image that exists nowhere (the tag keeps its Airflow version). */
function imagesNobodyHas(folder) {
  for (const entry of readdirSync(folder, { recursive: true })) {
    const file = path.join(folder, entry);
    if (!/airflow-runtime\.yaml$/.test(file)) continue;
    writeFileSync(file, readFileSync(file, 'utf8').replace(/airflow-runtime-test\/airflow:/g, `${marker}.invalid/team/airflow:`));
  }
}

async function runCase(name, env) {
  const { root, remove } = scratch(`airflow-runtime-fresh-${name}-`);
  const workspace = copyExamples(path.join(root, 'examples'));
  if (name === 'docker') imagesNobodyHas(workspace);
  const port = await freePort();
  const started = Date.now();
  const child = spawn('npm', ['start'], {
    cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env, PORT: String(port), AIRFLOW_RUNTIME_START_DIR: path.join(root, 'code-server'), AIRFLOW_RUNTIME_START_FOLDER: workspace, AIRFLOW_RUNTIME_CACHE_DIR: path.join(root, 'cache') },
  });
  let output = '';
  const ready = new Promise((resolve, reject) => {
    const take = (chunk) => {
      output += chunk;
      const url = /(http:\/\/127\.0\.0\.1:\d+\/\?folder=\S+)/.exec(output)?.[1];
      if (url) resolve(url);
    };
    child.stdout.setEncoding('utf8').on('data', take);
    child.stderr.setEncoding('utf8').on('data', take);
    child.on('exit', (code) => reject(new Error(`npm start exited (${code}) before it was ready:\n${output}`)));
  });
  let browser;
  try {
    const url = await Promise.race([ready, sleep(15 * 60_000).then(() => { throw new Error(`npm start not ready after 15 min:\n${output}`); })]);
    const readyS = (Date.now() - started) / 1000;
    log(`${name}: npm start said ready after ${readyS.toFixed(0)} s`);
    console.log(output.split('\n').map((l) => `    ${l}`).join('\n'));
    const engineLines = output.split('\n').filter((l) => /engine: /.test(l)).join('\n');
    if (name === 'docker' && !/embedded default: .*\.invalid\/team\/airflow:2\.11\.2 cannot be had here/.test(engineLines)) throw new Error(`npm start did not say the images cannot be had and what it uses instead:\n${engineLines}`);
    if (name === 'no-docker' && !/local runtime emulator.*Docker is not reachable/.test(engineLines)) throw new Error(`npm start did not say Docker is not reachable:\n${engineLines}`);
    browser = await launchChromium(root);
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 850 } })).newPage();
    recordConsole(page, path.join(RESULTS, `${name}-browser-console.log`));
    await page.goto(url);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    const trust = page.getByRole('button', { name: /Yes, I trust the authors/ });
    await trust.waitFor({ timeout: 60_000 });
    await trust.click();
    await openFile(page, 'orders_etl.py');
    const end = Date.now() + 5 * 60_000;
    let icons = [];
    while (Date.now() < end && (icons = await editorLines(page, '.testing-run-glyph')).length < 2) await sleep(500);
    await page.screenshot({ path: path.join(RESULTS, `${name}-orders_etl.png`) });
    if (icons.length < 2) throw new Error(`orders_etl.py shows no parsed DAG after 5 min (run icons at ${JSON.stringify(icons)})`);
    const parsedS = (Date.now() - started) / 1000;
    log(`${name}: orders_etl.py parsed in the editor (run icons at lines ${icons.join(', ')}) ${parsedS.toFixed(0)} s after npm start`);
    return { name, readyS, parsedS };
  } finally {
    await browser?.close().catch(() => {});
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // gone
    }
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
    if (process.env.AIRFLOW_RUNTIME_KEEP_TEST_DIRS) log(`kept ${root}`);
    else remove();
  }
}

let failed = false;
const times = [];
for (const [name, env] of [['docker', {}], ['no-docker', { DOCKER_HOST: `tcp://127.0.0.1:${await freePort()}` }]]) {
  try {
    times.push(await runCase(name, env));
  } catch (error) {
    failed = true;
    log(`FAIL ${name}: ${error.message}`);
  }
}
for (const { name, readyS, parsedS } of times) log(`${name}: ready after ${readyS.toFixed(0)} s, orders_etl.py parsed after ${parsedS.toFixed(0)} s`);
process.exit(failed ? 1 : 0);
