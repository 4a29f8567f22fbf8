// `npm test`: sets up everything the tests need on this machine (scripts/env/setup.sh: idempotent, seconds when
// done before), then runs every test with the real components required: a missing Docker engine, image, venv
// or code-server fails the run instead of skipping. The bundles are built once for all stages.
// AIRFLOW_RUNTIME_SKIP_SETUP=1 skips the set-up (a developer who just ran it); the quick loops stay
// `npm run test:unit`, `test:cli`, `test:harness`, `test:engine`, `test:extension`, `test:e2e`, `test:production`.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env, AIRFLOW_RUNTIME_REQUIRE_REAL: '1' };
const t0 = Date.now();
const seconds = () => ((Date.now() - t0) / 1000).toFixed(0);

function stage(name, command, args) {
  console.log(`\n=== [test ${seconds()} s] ${name}`);
  const started = Date.now();
  const { status, signal } = spawnSync(command, args, { cwd: REPO, env, stdio: 'inherit' });
  if (status !== 0) {
    console.error(`\n=== [test ${seconds()} s] ${name} FAILED (${signal ?? `exit ${status}`})`);
    process.exit(status || 1);
  }
  console.log(`=== [test ${seconds()} s] ${name}: passed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

const npm = (script) => ['npm', ['run', '--silent', script]];

if (process.env.AIRFLOW_RUNTIME_SKIP_SETUP !== '1') stage('set-up (scripts/env/setup.sh)', path.join(REPO, 'scripts', 'env', 'setup.sh'), []);
stage('lint', ...npm('lint'));
stage('lint (Python: ruff, its format check, pyright)', ...npm('lint:python'));
stage('types', ...npm('typecheck'));
stage('build', ...npm('build'));
// the bundles are fresh for every stage below: packaging the .vsix (e2e, fresh) does not build them again
env.AIRFLOW_RUNTIME_BUNDLES_FRESH = '1';
stage('unit', ...npm('test:unit'));
stage('cli', ...npm('test:cli'));
stage('harness and policy (real Airflow)', ...npm('test:harness'));
stage('engines (real Docker, real venvs)', ...npm('test:engine'));
stage('extension (a real VS Code extension host)', 'node', ['test/extension/run.mjs']);
stage('e2e (real VS Code in headless chromium)', ...npm('test:e2e'));
stage('npm start on a fresh cache, with Docker and without', 'node', ['test/e2e/fresh.mjs']);
stage('production (a real Airflow 3 Celery deployment)', ...npm('test:production'));
console.log(`\n=== every test passed in ${seconds()} s`);
