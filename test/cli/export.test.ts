/** `airflow-runtime export`, run as a user runs it. Needs `npm run build`. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import Ajv from 'ajv';
import type { Manifest } from '../../src/core/export/manifest';

const REPO = path.resolve(__dirname, '../..');
const CLI = path.join(REPO, 'dist/cli.js');
const EXAMPLES = path.join(REPO, 'examples');
const FILES = ['airflow-runtime-manifest.json', 'dag_bundle_config_list.json', 'deploy-commands.sh'];

function cli(args: string[], cwd = EXAMPLES) {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'airflow-runtime-export-'));
}

/** A copy of the examples (a workspace of its own, marked by .vscode). */
function scratchWorkspace(): string {
  const dir = tempDir();
  cpSync(EXAMPLES, dir, { recursive: true });
  mkdirSync(path.join(dir, '.vscode'));
  return dir;
}

/** The examples in the layout export asks for: each runtime of dags/team_b/ in a subfolder of its own. */
function splitWorkspace(): string {
  const ws = scratchWorkspace();
  const teamB = path.join(ws, 'dags/team_b');
  for (const folder of ['regional_reports', 'inventory_sync']) mkdirSync(path.join(teamB, folder));
  for (const file of ['regional_reports.py', 'regional_reports.airflow-runtime.yaml']) renameSync(path.join(teamB, file), path.join(teamB, 'regional_reports', file));
  renameSync(path.join(teamB, 'inventory_sync.py'), path.join(teamB, 'inventory_sync/inventory_sync.py'));
  return ws;
}

const readOut = (dir: string) => FILES.map((f) => readFileSync(path.join(dir, f), 'utf8'));

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run "npm run build" first`);
});

describe('airflow-runtime export', () => {
  it('refuses the examples: regional_reports.py has a runtime of its own in the folder of inventory_sync.py', () => {
    const out = path.join(tempDir(), 'out');
    const { code, stdout, stderr } = cli(['export', '--out', out]);
    assert.equal(code, 2);
    assert.equal(stdout, '');
    const [first, last] = stderr.trimEnd().split('\n');
    assert.match(first, /^dags\/team_b\/regional_reports\.airflow-runtime\.yaml:3:3: error: `env\.REPORT_BUCKET` gives dags\/team_b\/regional_reports\.py another runtime \(rt-[0-9a-f]{12}\) than dags\/team_b\/inventory_sync\.py \(rt-[0-9a-f]{12}\), in the same folder: Airflow splits parsing by folder only/);
    assert.match(first, /A layout that works: a subfolder per runtime, e\.g\. dags\/team_b\/regional_reports\/ for regional_reports\.py and regional_reports\.airflow-runtime\.yaml, and dags\/team_b\/inventory_sync\/ for inventory_sync\.py/);
    assert.match(last, /nothing written/);
    assert.ok(!existsSync(out), 'nothing is written when export refuses');
  });

  it('exports the examples in the layout it asks for: a manifest that validates against its schema, and the fragments', () => {
    const ws = splitWorkspace();
    const { code, stdout, stderr } = cli(['export'], ws);
    assert.equal(code, 0, stderr);
    const manifest: Manifest = JSON.parse(readFileSync(path.join(ws, 'airflow-runtime-export/airflow-runtime-manifest.json'), 'utf8'));
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(path.join(REPO, 'media/manifest.schema.json'), 'utf8')));
    assert.ok(validate(manifest), JSON.stringify(validate.errors, null, 2));
    assert.equal(manifest.dagsFolder, 'dags');
    assert.deepEqual(manifest.files.map((f) => f.path), [
      'team_a/customer_metrics.py', 'team_a/orders_etl.py', 'team_b/inventory_sync/inventory_sync.py', 'team_b/regional_reports/regional_reports.py',
    ]);
    const byBundle = Object.fromEntries(manifest.runtimes.flatMap((r) =>
      r.bundles.map((b) => [b.path, [r.image, r.env.TEAM, r.env.REPORT_BUCKET ?? null]])));
    assert.deepEqual(byBundle, {
      team_a: ['airflow-runtime-test/airflow:2.11.2', 'team_a', null],
      'team_b/inventory_sync': ['airflow-runtime-test/airflow:3.3.2', 'team_b', null],
      'team_b/regional_reports': ['airflow-runtime-test/airflow:3.3.2', 'team_b', 's3://reports-dev'],
    });
    const lines = stdout.trimEnd().split('\n');
    assert.equal(lines[0], '4 DAG files in dags/: 3 runtimes, 3 bundles (deployed at /opt/airflow/dags)');
    assert.equal(lines[lines.length - 1], 'wrote airflow-runtime-export/airflow-runtime-manifest.json, dag_bundle_config_list.json, deploy-commands.sh');
    assert.match(stderr, /note: the runtimes run Airflow 2 and 3; one deployment runs one Airflow version/);
    const bundles = JSON.parse(readFileSync(path.join(ws, 'airflow-runtime-export/dag_bundle_config_list.json'), 'utf8'));
    assert.deepEqual(bundles.map((b: { kwargs: { path: string } }) => b.kwargs.path).sort(), [
      '/opt/airflow/dags/team_a', '/opt/airflow/dags/team_b/inventory_sync', '/opt/airflow/dags/team_b/regional_reports',
    ]);
    const commands = readFileSync(path.join(ws, 'airflow-runtime-export/deploy-commands.sh'), 'utf8');
    for (const runtime of manifest.runtimes) {
      assert.ok(commands.includes(`AIRFLOW_RUNTIME_ID=${runtime.id} airflow celery worker --queues ${runtime.queue}\n`), runtime.id);
      for (const bundle of runtime.bundles) assert.ok(commands.includes(`AIRFLOW_RUNTIME_ID=${runtime.id} airflow dag-processor --bundle-name ${bundle.name}\n`), bundle.name);
    }
  });

  it('--workers says how Celery workers reach a task\'s image: lean ones only for Airflow 3 runtimes', () => {
    const ws = splitWorkspace();
    const refused = cli(['export', '--workers', 'lean'], ws);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /nothing written: lean workers launch tasks through Airflow 3's Execution API, and rt-[0-9a-f]{12} runs Airflow 2: use --workers per-image/);
    assert.ok(!existsSync(path.join(ws, 'airflow-runtime-export')), 'nothing is written when export refuses');
    rmSync(path.join(ws, 'dags/team_a'), { recursive: true });
    const lean = cli(['export', '--workers', 'lean'], ws);
    assert.equal(lean.code, 0, lean.stderr);
    assert.match(lean.stdout, /^workers: lean \(one pool of identical workers launches each task in its runtime's image\)$/m);
    const commands = readFileSync(path.join(ws, 'airflow-runtime-export/deploy-commands.sh'), 'utf8');
    assert.match(commands, /^AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=airflow_runtime_policy\.celery_worker\.CELERY_CONFIG airflow celery worker --queues \S+$/m);
    assert.doesNotMatch(commands, /^AIRFLOW_RUNTIME_ID=\S+ airflow celery worker/m, 'no per-image pool');
    const bad = cli(['export', '--workers', 'fat'], ws);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--workers is per-image or lean, not "fat"/);
  });

  it('gives the same bytes when run again on unchanged files, wherever it is run from', () => {
    const ws = splitWorkspace();
    const first = path.join(tempDir(), 'first');
    const second = path.join(tempDir(), 'second');
    assert.equal(cli(['export', '--out', first], ws).code, 0);
    const again = cli(['export', ws, '--out', second, '--json'], path.join(ws, 'dags'));
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(readOut(second), readOut(first));
    assert.equal(`${again.stdout.trimEnd()}\n`, readOut(first)[0], '--json prints the manifest');
  });

  it('refuses a folder that mixes runtimes, at the runtime file\'s line, with exit 2', () => {
    const ws = splitWorkspace();
    writeFileSync(path.join(ws, 'dags/team_a/new_etl.py'), 'from airflow import DAG\n');
    writeFileSync(path.join(ws, 'dags/team_a/new_etl.airflow-runtime.yaml'), '# on the new image already\nimage: airflow-runtime-test/airflow:3.3.2\n');
    const { code, stderr } = cli(['export'], ws);
    assert.equal(code, 2);
    assert.match(stderr, /^dags\/team_a\/new_etl\.airflow-runtime\.yaml:2:1: error: `image` gives dags\/team_a\/new_etl\.py another runtime \(rt-[0-9a-f]{12}\) than dags\/team_a\/customer_metrics\.py/);
    assert.ok(!existsSync(path.join(ws, 'airflow-runtime-export')));
  });

  it('refuses DAG files directly in a folder whose subfolder has another runtime: a bundle of the folder would take it', () => {
    const ws = splitWorkspace();
    writeFileSync(path.join(ws, 'dags/team_b/shared.py'), 'from airflow import DAG\n');
    const { code, stderr } = cli(['export'], ws);
    assert.equal(code, 2);
    assert.match(stderr, /^dags\/team_b\/regional_reports\/regional_reports\.airflow-runtime\.yaml:3:3: error: `env\.REPORT_BUCKET` gives the DAG files under dags\/team_b\/regional_reports\/ .* a bundle or --subdir of dags\/team_b\/ would take dags\/team_b\/regional_reports\/ with it/m);
  });

  it('a runtime file with errors stops the export (exit 2), the error at its line', () => {
    const ws = splitWorkspace();
    writeFileSync(path.join(ws, 'dags/team_a/airflow-runtime.yaml'), 'env:\n  TEAM: team_a\ndeploy:\n  queue: team a\n');
    const { code, stderr } = cli(['export'], ws);
    assert.equal(code, 2);
    assert.match(stderr, /^dags\/team_a\/airflow-runtime\.yaml:4:10: error: `deploy\.queue` must be a queue name/);
    assert.ok(!existsSync(path.join(ws, 'airflow-runtime-export')));
  });

  it('deploy.queue and --deployment-dags-folder reach the fragments', () => {
    const ws = splitWorkspace();
    writeFileSync(path.join(ws, 'dags/team_a/airflow-runtime.yaml'), 'env:\n  TEAM: team_a\ndeploy:\n  queue: team_a\n  executor: celery_team_a\n');
    const { code, stderr } = cli(['export', '--deployment-dags-folder', '/srv/airflow/dags/'], ws);
    assert.equal(code, 0, stderr);
    const [manifest, bundles, commands] = readOut(path.join(ws, 'airflow-runtime-export'));
    const teamA = JSON.parse(manifest).runtimes.find((r: { queue: string }) => r.queue === 'team_a');
    assert.equal(teamA.executor, 'celery_team_a');
    assert.ok(JSON.parse(bundles).some((b: { kwargs: { path: string } }) => b.kwargs.path === '/srv/airflow/dags/team_a'));
    assert.match(commands, new RegExp(`^AIRFLOW_RUNTIME_ID=${teamA.id} airflow celery worker --queues team_a$`, 'm'));
    assert.match(commands, new RegExp(`^AIRFLOW_RUNTIME_ID=${teamA.id} airflow dag-processor --subdir /srv/airflow/dags/team_a$`, 'm'));
  });

  it('says when an .airflowignore above a bundle would not reach that bundle\'s processor', () => {
    const ws = splitWorkspace();
    writeFileSync(path.join(ws, 'dags/.airflowignore'), 'scratch_.*\n');
    const { code, stderr } = cli(['export'], ws);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /^note: dags\/\.airflowignore is above the bundle team_a\/: Airflow reads a bundle's \.airflowignore files from its own folder down/m);
  });

  it('usage errors exit 2 and say what to do', () => {
    const relative = cli(['export', '--deployment-dags-folder', 'dags']);
    assert.equal(relative.code, 2);
    assert.match(relative.stderr, /--deployment-dags-folder must be an absolute path/);
    const inside = cli(['export', 'dags/team_a']);
    assert.equal(inside.code, 2);
    assert.match(inside.stderr, /dags\/team_a is inside the DAGs folder dags: export the whole project \(airflow-runtime export \.\)/);
    assert.equal(cli(['export', '--help']).code, 0);
  });
});

/** A tmpfs of `kb` KB at a folder of its own, for a full disk; undefined where this user cannot mount one. */
function smallDisk(kb: number): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const dir = tempDir();
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${kb}k`, 'tmpfs', dir]).status === 0 ? dir : undefined;
}

describe('export to a full disk (issue 21, item 10)', () => {
  const disk = smallDisk(64);
  it('leaves the manifest that was there whole, and says why in one line, exit 2, no stack trace', { skip: disk ? false : 'needs root to mount a small tmpfs' }, () => {
    const out = disk!;
    try {
      const ws = splitWorkspace();
      const first = cli(['export', '.', '--out', out], ws);
      assert.equal(first.code, 0, first.stderr);
      const before = readOut(out);
      // fill the disk to the last byte
      const filler = Buffer.alloc(4096, 1);
      try {
        for (let i = 0; ; i++) writeFileSync(path.join(out, `filler-${i}`), filler);
      } catch (error) {
        assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
      }
      // a changed runtime file, so that the export has something new to write
      writeFileSync(path.join(ws, 'dags/team_a/airflow-runtime.yaml'), `${readFileSync(path.join(ws, 'dags/team_a/airflow-runtime.yaml'), 'utf8')}\nvariables:\n  filler: ${'x'.repeat(8000)}\n`);
      const full = cli(['export', '.', '--out', out], ws);
      assert.equal(full.code, 2, full.stdout + full.stderr);
      assert.match(full.stderr, /^airflow-runtime: nothing written: cannot write .*airflow-runtime-manifest\.json: the disk is full; the files in .* are as they were/m);
      assert.doesNotMatch(full.stderr, /internal error|^\s+at /m);
      assert.deepEqual(readOut(out), before, 'the files there are as they were');
      assert.deepEqual(spawnSync('ls', ['-A', out], { encoding: 'utf8' }).stdout.split('\n').filter((f) => f.endsWith('.tmp')), [], 'no temp file left');
    } finally {
      spawnSync('umount', [out]);
    }
  });
});
