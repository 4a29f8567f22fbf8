/**
 * Which files are DAG files is decided by the Airflow the runtime reports, not by a guess from its tag (issue
 * 22.1): an Airflow 3 image tagged `:stable` keeps its asset-only files, an Airflow 2 one under the same kind of
 * tag does not pick them up, from a cache where neither runtime ever answered.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { cli, dockerProblem, image, needs, scratchWorkspace } from './support';

const marker = `team-${process.pid}-${Date.now()}`;
const stable3 = `${marker}/runtime:stable`;
const stable2 = `${marker}/runtime2:stable`;
const ASSET_ONLY = 'from airflow.sdk import asset\n\n\n@asset(schedule=None)\ndef orders():\n    return 1\n\n\n@asset(schedule=None)\ndef customers():\n    return 2\n';
const CLASSIC = 'from datetime import datetime\nfrom airflow import DAG\n\nwith DAG("classic", start_date=datetime(2024, 1, 1), schedule=None):\n    pass\n';

describe('the runtime says which Airflow it is', { ...needs(dockerProblem()), timeout: 300_000 }, () => {
  const cache = mkdtempSync(path.join(os.tmpdir(), 'airflow-runtime-reported-'));
  for (const [tag, version] of [[stable3, '3.3.2'], [stable2, '2.11.2']]) {
    const tagged = spawnSync('docker', ['-H', 'unix:///var/run/docker.sock', 'tag', image(version), tag], { encoding: 'utf8' });
    assert.equal(tagged.status, 0, tagged.stderr);
  }
  after(() => {
    spawnSync('docker', ['-H', 'unix:///var/run/docker.sock', 'rmi', stable3, stable2]);
    rmSync(cache, { recursive: true, force: true });
  });

  it('an Airflow 3 image tagged :stable keeps its asset-only files, first time and after', async () => {
    const ws = scratchWorkspace('reported', { 'dags/airflow-runtime.yaml': `image: ${stable3}\npull: never\n`, 'dags/assets.py': ASSET_ONLY, 'dags/classic.py': CLASSIC });
    for (const time of ['first', 'second']) {
      const { code, stdout, stderr } = await cli(['parse', 'dags', '--engine', 'docker', '--format', 'json'], { cwd: ws, env: { AIRFLOW_RUNTIME_CACHE_DIR: cache } });
      assert.equal(code, 0, `${time}: ${stderr}`);
      const ids = (JSON.parse(stdout) as { dags: { dagId: string }[] }[]).flatMap((r) => r.dags.map((d) => d.dagId)).sort();
      assert.deepEqual(ids, ['classic', 'customers', 'orders'], `${time} time`);
      assert.doesNotMatch(stderr, /safe mode skips/);
    }
    // named by hand, it is a DAG file: no note that Airflow 2's safe mode would skip it
    const named = await cli(['parse', 'dags/assets.py', '--engine', 'docker'], { cwd: ws, env: { AIRFLOW_RUNTIME_CACHE_DIR: cache } });
    assert.equal(named.code, 0, named.stderr);
    assert.doesNotMatch(named.stderr, /note:/);
  });

  it('an Airflow 2 image under the same kind of tag leaves an asset-only file out, as Airflow 2 does', async () => {
    const ws = scratchWorkspace('reported', { 'dags/airflow-runtime.yaml': `image: ${stable2}\npull: never\n`, 'dags/assets.py': ASSET_ONLY, 'dags/classic.py': CLASSIC });
    const { code, stdout, stderr } = await cli(['parse', 'dags', '--engine', 'docker', '--format', 'json'], { cwd: ws, env: { AIRFLOW_RUNTIME_CACHE_DIR: cache } });
    assert.equal(code, 0, stderr);
    assert.deepEqual((JSON.parse(stdout) as { file: string }[]).map((r) => path.basename(r.file)), ['classic.py']);
    assert.match(stderr, /dags\/assets\.py: note: not a DAG file for the Airflow its runtime reported: left out/);
  });
});
