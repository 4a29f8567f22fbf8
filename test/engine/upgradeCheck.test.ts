/**
 * `upgrade-check` on the real Airflow 2 and 3 test images: a file written for Airflow 2 only breaks (the import
 * error and ruff's finding at their lines), a file written for both is unchanged, a file whose DAG changes says
 * what changed; `--fix` writes only with the flag and reports the re-parse; exit codes 0, 1 and 2.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { cli, dockerProblem, image, needs, ourContainers, scratchWorkspace, VERSIONS } from './support';

const [AIRFLOW2, AIRFLOW3] = [VERSIONS.find((v) => v.startsWith('2.')) ?? '2.11.2', VERSIONS.find((v) => v.startsWith('3.')) ?? '3.3.2'];

const OLD = `from datetime import datetime

from airflow import DAG
from airflow.operators.dummy import DummyOperator

with DAG("old", start_date=datetime(2024, 1, 1), schedule_interval="@daily") as dag:
    DummyOperator(task_id="start")
`;
const BOTH = `from datetime import datetime

from airflow import DAG
from airflow.models import BaseOperator


class Hello(BaseOperator):
    def execute(self, context):
        return "hello"


with DAG("both", start_date=datetime(2024, 1, 1), schedule="@daily", catchup=False) as dag:
    Hello(task_id="a") >> Hello(task_id="b")
`;
// No schedule: Airflow 2 gives it one day, Airflow 3 none.
const CHANGES = `from datetime import datetime

from airflow import DAG
from airflow.models import BaseOperator


class Hello(BaseOperator):
    def execute(self, context):
        return "hello"


with DAG("changes", start_date=datetime(2024, 1, 1), catchup=False) as dag:
    Hello(task_id="a")
`;

const project = () => scratchWorkspace('upgrade', {
  'dags/airflow-runtime.yaml': `image: ${image(AIRFLOW2)}\npull: never\n`,
  'dags/old.py': OLD,
  'dags/both.py': BOTH,
  'dags/changes.py': CHANGES,
  'target.airflow-runtime.yaml': `image: ${image(AIRFLOW3)}\n`,
});

describe('upgrade-check from Airflow 2 to Airflow 3, on Docker', { ...needs(dockerProblem()), timeout: 600_000 }, () => {
  const workspaces: string[] = [];
  const ws = () => { const dir = project(); workspaces.push(dir); return dir; };
  after(() => {
    assert.deepEqual(ourContainers(...workspaces), [], 'no container of ours is left');
    for (const dir of workspaces) rmSync(dir, { recursive: true, force: true });
  });

  it('says what breaks and what changes, per line, and exits 1 when a file breaks; writes nothing', async () => {
    const dir = ws();
    const { code, stdout, stderr } = await cli(['upgrade-check', 'dags', '--to', image(AIRFLOW3), '--engine', 'docker'], { cwd: dir });
    const all = stdout + stderr;
    assert.equal(code, 1, all);
    assert.match(stdout, new RegExp(`^dags/old\\.py:4:1: error: ModuleNotFoundError: No module named 'airflow\\.operators\\.dummy' \\(works on ${AIRFLOW2}, fails on ${AIRFLOW3}\\)$`, 'm'), all);
    assert.match(stdout, /^dags\/old\.py:6:50: warning: AIR301 `schedule_interval` is removed in Airflow 3\.0 \(static: ruff\) \[safe fix \(--fix applies it\): Use `schedule` instead\]$/m, all);
    assert.match(stdout, /^dags\/old\.py:7:5: warning: AIR302 .*DummyOperator.*\(static: ruff\)/m, all);
    assert.match(stdout, new RegExp(`^dags/changes\\.py:12:1: info: DAG "changes": schedule 1 day, 0:00:00 on ${AIRFLOW2}, none on ${AIRFLOW3}$`, 'm'), all);
    assert.doesNotMatch(stdout, /^dags\/both\.py:\d+:\d+: (error|info)/m, all);
    assert.match(stderr, /^dags\/old\.py: breaks /m, all);
    assert.match(stderr, /^dags\/both\.py: unchanged/m, all);
    assert.match(stderr, /^dags\/changes\.py: changes \(1 change/m, all);
    assert.match(stderr, new RegExp(`^3 files on ${image(AIRFLOW3).replace(/[/.]/g, '\\$&')}: 1 break, 1 change, 1 unchanged; \\d+ static findings \\(2 with a safe fix`, 'm'), all);
    assert.equal(readFileSync(path.join(dir, 'dags/old.py'), 'utf8'), OLD, 'without --fix nothing is written');
  });

  it('takes a runtime file as the target, prints JSON, exits 0 when nothing breaks; --fix leaves unsafe fixes alone', async () => {
    const dir = ws();
    const { code, stdout, stderr } = await cli(['upgrade-check', 'dags/both.py', 'dags/changes.py', '--to-runtime', 'target.airflow-runtime.yaml', '--engine', 'docker', '--format', 'json', '--fix'], { cwd: dir });
    assert.equal(code, 0, stdout + stderr);
    // ruff's only fix here (AIR311: airflow.DAG to airflow.sdk.DAG) is unsafe: not written
    assert.match(stderr, /^--fix: ruff has no safe fix for these files: nothing was written$/m);
    assert.equal(readFileSync(path.join(dir, 'dags/both.py'), 'utf8'), BOTH);
    assert.equal(readFileSync(path.join(dir, 'dags/changes.py'), 'utf8'), CHANGES);
    const report = JSON.parse(stdout);
    assert.equal(report.format, 'airflow-runtime/upgrade-check@1');
    assert.deepEqual(report.files.map((f: { file: string; verdict: string }) => [path.basename(f.file), f.verdict]), [['both.py', 'unchanged'], ['changes.py', 'changes']]);
    const changes = report.files[1];
    assert.deepEqual([changes.current.airflowVersion, changes.target.airflowVersion], [AIRFLOW2, AIRFLOW3]);
    assert.deepEqual([changes.before[0].schedule, changes.after[0].schedule], ['1 day, 0:00:00', null]);
    assert.deepEqual(report.summary, { breaks: 0, changes: 1, unchanged: 1, notChecked: 0, staticFindings: 2, safeFixes: 0 });
    assert.deepEqual(report.files[0].static.map((f: { rule: string; fix: { applicability: string } }) => [f.rule, f.fix.applicability]), [['AIR311', 'unsafe']]);
  });

  it("--fix writes ruff's safe fixes, parses again on the target and says what is left", async () => {
    const dir = ws();
    const { code, stdout, stderr } = await cli(['upgrade-check', 'dags/old.py', '--to', image(AIRFLOW3), '--engine', 'docker', '--fix'], { cwd: dir });
    const all = stdout + stderr;
    assert.equal(code, 0, `nothing breaks on ${AIRFLOW3} after the fix:\n${all}`);
    const fixed = readFileSync(path.join(dir, 'dags/old.py'), 'utf8');
    assert.match(fixed, /schedule="@daily"/);
    assert.match(fixed, /^from airflow\.providers\.standard\.operators\.empty import EmptyOperator$/m);
    assert.doesNotMatch(fixed, /airflow\.operators\.dummy|schedule_interval/, 'the import the fix left unused is gone too');
    assert.match(stdout, /^--fix: ruff's safe fixes written \(2 fixes in dags\/old\.py\); checked again/m, all);
    // what is left: the fixed file is Airflow 3 code, which its current runtime cannot import (said, at its line)
    assert.match(stdout, new RegExp(`^dags/old\\.py:4:1: info: works on ${AIRFLOW3}, fails on ${AIRFLOW2}: ModuleNotFoundError: No module named 'airflow\\.providers\\.standard'`, 'm'), all);
    assert.doesNotMatch(stdout, /AIR30[12]/, all);
  });

  it('exits 2 for usage and infrastructure errors, with a message and no stack trace', async () => {
    const dir = ws();
    const cases: Array<{ args: string[]; says: RegExp }> = [
      { args: ['upgrade-check', 'dags'], says: /needs its target: --to IMAGE or --to-runtime FILE/ },
      { args: ['upgrade-check', 'dags', '--to', 'x', '--to-runtime', 'y'], says: /needs its target: --to IMAGE or --to-runtime FILE \(one of them\)/ },
      { args: ['upgrade-check', 'nowhere', '--to', 'x'], says: /no such file or folder: nowhere/ },
      { args: ['upgrade-check', 'dags', '--to-runtime', 'missing.yaml'], says: /no such runtime file: missing\.yaml/ },
      { args: ['upgrade-check', 'dags', '--to', 'x', '--format', 'xml'], says: /--format must be text or json/ },
    ];
    for (const { args, says } of cases) {
      const { code, stderr } = await cli(args, { cwd: dir });
      assert.equal(code, 2, `${args.join(' ')}:\n${stderr}`);
      assert.match(stderr, says);
      assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
    }
    const missing = await cli(['upgrade-check', 'dags/both.py', '--to', 'airflow-runtime-test/not-here:0', '--engine', 'docker'], { cwd: dir });
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /^dags\/both\.py: not checked: not parsed on airflow-runtime-test\/not-here:0: /m);
  });
});
