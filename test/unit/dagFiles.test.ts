/** Which files are DAG files: Airflow's rule (safe mode per major, .airflowignore in both syntaxes, the DAGs folder). */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { airflowMajorOf, DagFileJudge, type DagFileRule, dagFileRuleOf, findDagFiles } from '../../src/core/workspace/dagFiles';
import { recordReportedAirflow } from '../../src/core/runtime/reportedAirflow';
import { findRuntimeFiles } from '../../src/core/workspace/runtimeFiles';
import { DEPENDENCY_FOLDERS } from '../../src/core/workspace/walk';

const roots: string[] = [];
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'airflow-runtime-dagfiles-'));
  roots.push(root);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), text);
  }
  return root;
}
after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

const DAG = 'from airflow import DAG\n';
const ASSET = 'from airflow.sdk import asset\n';
const rule = (airflowMajor: 2 | 3, ignoreSyntax: 'regexp' | 'glob' = airflowMajor === 3 ? 'glob' : 'regexp'): DagFileRule => ({ airflowMajor, ignoreSyntax, safeMode: true });
const found = (root: string, r: DagFileRule, given = [root]) => {
  const { files, notes } = findDagFiles(given, new DagFileJudge(() => root, () => r));
  return { files: files.map((f) => path.relative(root, f)), notes: notes.map((n) => n.note) };
};

describe('safe mode', () => {
  it('asset-only files are DAG files on Airflow 3, not on Airflow 2', () => {
    const root = tree({ 'dags/a.py': ASSET, 'dags/d.py': DAG, 'dags/plain.py': 'x = 1\n' });
    assert.deepEqual(found(root, rule(3)).files, ['dags/a.py', 'dags/d.py']);
    assert.deepEqual(found(root, rule(2)).files, ['dags/d.py']);
  });

  it('a file the rule skips but the user names is parsed, with a note that says why', () => {
    const root = tree({ 'dags/a.py': ASSET });
    const { files, notes } = found(root, rule(2), [path.join(root, 'dags/a.py')]);
    assert.deepEqual(files, ['dags/a.py']);
    assert.match(notes[0], /does not mention "airflow" and "dag", so Airflow 2's safe mode skips it; parsed because it was named/);
  });

  it('an empty file is no DAG file, and the verdict says it read nothing (an editor saving truncates first)', () => {
    const root = tree({ 'dags/saving.py': '' });
    const verdict = new DagFileJudge(() => root, () => rule(2)).verdict(path.join(root, 'dags/saving.py'));
    assert.deepEqual(verdict, { isDag: false, reason: "it is empty, so Airflow 2's safe mode skips it", empty: true });
    assert.deepEqual(found(root, rule(2)).files, []);
  });

  it('safe mode off takes every .py file', () => {
    const root = tree({ 'dags/plain.py': 'x = 1\n' });
    assert.deepEqual(found(root, { ...rule(2), safeMode: false }).files, ['dags/plain.py']);
  });
});

describe('.airflowignore', () => {
  it('regexp: searched in the path relative to the DAGs folder, nested files add to their parents', () => {
    const root = tree({
      'dags/.airflowignore': '^legacy/\n# comment\nscratch  # trailing comment\n',
      'dags/legacy/old.py': DAG, 'dags/my_scratch_dag.py': DAG, 'dags/keep.py': DAG,
      'dags/team/.airflowignore': 'team/wip_',
      'dags/team/wip_x.py': DAG, 'dags/team/done.py': DAG,
    });
    assert.deepEqual(found(root, rule(2, 'regexp')).files, ['dags/keep.py', 'dags/team/done.py']);
  });

  it('glob: names match at any depth, patterns with a slash are anchored to their file, ! re-includes, dir/ only folders', () => {
    const root = tree({
      'dags/.airflowignore': '*_test.py\n!keep_test.py\nbuild/\n/top_only.py\n',
      'dags/a_test.py': DAG, 'dags/keep_test.py': DAG, 'dags/x/b_test.py': DAG,
      'dags/build/gen.py': DAG, 'dags/top_only.py': DAG, 'dags/x/top_only.py': DAG, 'dags/ok.py': DAG,
      'dags/sub/.airflowignore': 'scratch/*.py\n', 'dags/sub/scratch/s.py': DAG, 'dags/sub/s.py': DAG,
    });
    assert.deepEqual(found(root, rule(3, 'glob')).files, ['dags/keep_test.py', 'dags/ok.py', 'dags/sub/s.py', 'dags/x/top_only.py']);
  });

  it('names the line that excludes a file the user named', () => {
    const root = tree({ 'dags/.airflowignore': '\nbroken.*\n', 'dags/broken.py': DAG });
    assert.match(found(root, rule(2), [path.join(root, 'dags/broken.py')]).notes[0], /dags\/\.airflowignore:2 excludes it \(regexp pattern "broken\.\*"\)/);
  });
});

describe('the DAGs folder', () => {
  it("a project's include/, plugins/ and tests/ are not in its DAGs folder; dependency and hidden folders are not walked", () => {
    const root = tree({ 'dags/d.py': DAG, 'include/h.py': DAG, 'tests/test_d.py': DAG, 'plugins/p.py': DAG, 'dags/.venv/x.py': DAG, 'dags/node_modules/y.py': DAG });
    assert.deepEqual(found(root, rule(2)).files, ['dags/d.py']);
  });

  it('without a dags/ folder, the workspace is the DAGs folder', () => {
    const root = tree({ 'etl.py': DAG, 'lib/util.py': DAG });
    assert.deepEqual(found(root, rule(2)).files, ['etl.py', 'lib/util.py']);
  });
});

describe("a runtime's rule", () => {
  it('the Airflow major from the image tag, Astro Runtime tags, the local requirements pin, else 2', () => {
    assert.equal(airflowMajorOf({ image: 'apache/airflow:3.1.2-python3.12' }), 3);
    assert.equal(airflowMajorOf({ image: 'quay.io/astronomer/astro-runtime:3.0-1' }), 3);
    assert.equal(airflowMajorOf({ image: 'quay.io/astronomer/astro-runtime:12.1.0' }), 2);
    assert.equal(airflowMajorOf({ image: 'registry:5000/team/airflow' }), 2);
    assert.equal(airflowMajorOf({ local: { requirements: '/r.txt' } }, () => 'pandas\napache-airflow[celery]==3.0.6\n'), 3);
  });

  it('[core] settings in airflowConfig choose the ignore syntax and safe mode', () => {
    assert.deepEqual(dagFileRuleOf({ image: 'x:3.3.2' }), { airflowMajor: 3, ignoreSyntax: 'glob', safeMode: true });
    assert.deepEqual(dagFileRuleOf({ image: 'x:2.11.2' }), { airflowMajor: 2, ignoreSyntax: 'regexp', safeMode: true });
    assert.deepEqual(dagFileRuleOf({ image: 'x:3.3.2', airflowConfig: { core: { DAG_IGNORE_FILE_SYNTAX: 'regexp', dag_discovery_safe_mode: 'False' } } }),
      { airflowMajor: 3, ignoreSyntax: 'regexp', safeMode: false });
  });
});

describe('the Airflow version that decides the rule', () => {
  it('is the runtime\'s own answer once it gave one, whatever its tag suggests', () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), 'airflow-runtime-reported-'));
    const before = process.env.AIRFLOW_RUNTIME_CACHE_DIR;
    process.env.AIRFLOW_RUNTIME_CACHE_DIR = cache;
    try {
      const stable = { image: 'team/runtime:stable' };
      // never answered, and the tag says nothing: Airflow 3's words (a superset), so no asset-only file is lost
      assert.equal(dagFileRuleOf(stable).airflowMajor, 3);
      assert.equal(recordReportedAirflow(stable, '2.11.2'), true);
      assert.deepEqual(dagFileRuleOf(stable), { airflowMajor: 2, ignoreSyntax: 'regexp', safeMode: true });
      assert.equal(recordReportedAirflow(stable, '2.11.2'), false, 'the same answer changes nothing');
      // a tag that suggests 2 on an image that says 3
      const misleading = { image: 'team/runtime:2.1.0' };
      assert.equal(dagFileRuleOf(misleading).airflowMajor, 2);
      recordReportedAirflow(misleading, '3.3.2');
      assert.deepEqual(dagFileRuleOf(misleading), { airflowMajor: 3, ignoreSyntax: 'glob', safeMode: true });
    } finally {
      if (before === undefined) delete process.env.AIRFLOW_RUNTIME_CACHE_DIR;
      else process.env.AIRFLOW_RUNTIME_CACHE_DIR = before;
    }
  });
});

describe('the folders no walk goes into', () => {
  it('are the editor\'s default exclude globs too: one list', () => {
    const manifest = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { contributes: { configuration: { properties: Record<string, { default?: unknown }> } } };
    const globs = manifest.contributes.configuration.properties['airflowRuntime.dagFiles.exclude'].default as string[];
    assert.deepEqual(new Set(globs.map((glob) => /^\*\*\/([^/]+)\/\*\*$/.exec(glob)?.[1])), new Set(DEPENDENCY_FOLDERS));
  });

  it('the runtime files of a tree are found outside hidden and dependency folders', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'walk-'));
    for (const folder of ['dags', 'dags/.hidden', 'dags/node_modules/x', 'dags/.ruff_cache', 'dags/sub']) mkdirSync(path.join(root, folder), { recursive: true });
    for (const folder of ['dags', 'dags/.hidden', 'dags/node_modules/x', 'dags/.ruff_cache', 'dags/sub']) {
      writeFileSync(path.join(root, folder, 'airflow-runtime.yaml'), 'image: x\n');
      writeFileSync(path.join(root, folder, 'a.py'), '# airflow dag\n');
    }
    assert.deepEqual(findRuntimeFiles(root).map((file) => path.relative(root, file)), ['dags/airflow-runtime.yaml', 'dags/sub/airflow-runtime.yaml']);
    rmSync(root, { recursive: true, force: true });
  });
});
