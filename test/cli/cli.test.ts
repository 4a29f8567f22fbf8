/** The built CLI, run as a user runs it: a process, its output and its exit code. Needs `npm run build`. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';

const REPO = path.resolve(__dirname, '../..');
const CLI = path.join(REPO, 'dist/cli.js');
const EXAMPLES = path.join(REPO, 'examples');

function cli(args: string[], cwd = EXAMPLES) {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A copy of the examples in a temp folder (a workspace root of its own, marked by .vscode) to break freely. */
function scratchWorkspace(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'airflow-runtime-cli-'));
  cpSync(EXAMPLES, dir, { recursive: true });
  mkdirSync(path.join(dir, '.vscode'));
  return dir;
}

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run "npm run build" first`);
});

describe('airflow-runtime validate', () => {
  it('prints nothing and exits 0 on the examples', () => {
    const { code, stdout, stderr } = cli(['validate']);
    assert.equal(stdout, '');
    assert.equal(stderr, '');
    assert.equal(code, 0);
  });

  it('prints each problem as path:line:col and exits 2', () => {
    const ws = scratchWorkspace();
    writeFileSync(path.join(ws, 'dags/team_a/airflow-runtime.yaml'), 'env:\n  TEAM: team_a\npull: sometimes\ntimeouts:\n  parse: soon\n');
    const { code, stdout, stderr } = cli(['validate'], ws);
    assert.equal(code, 2);
    assert.deepEqual(stdout.trimEnd().split('\n'), [
      'dags/team_a/airflow-runtime.yaml:3:7: error: `pull` must be one of always, missing, never, not "sometimes"',
      'dags/team_a/airflow-runtime.yaml:5:10: error: `timeouts.parse`: "soon" is not a duration; write seconds or a number with s, m or h (30s, 5m, 1h)',
    ]);
    assert.match(stderr, /4 runtime files checked: 2 errors, 0 warnings/);
  });

  it('checks only the files given, and warnings alone exit 0', () => {
    const ws = scratchWorkspace();
    const file = path.join(ws, 'dags/warn.airflow-runtime.yaml');
    writeFileSync(file, '');
    const { code, stdout } = cli(['validate', 'dags/warn.airflow-runtime.yaml'], ws);
    assert.equal(stdout.trim(), 'dags/warn.airflow-runtime.yaml:1:1: warning: empty runtime file: it changes nothing (add `image:` or another field)');
    assert.equal(code, 0);
  });

  it('a file that does not exist is an error', () => {
    const { code, stdout } = cli(['validate', 'nope.airflow-runtime.yaml']);
    assert.equal(code, 2);
    assert.match(stdout, /^nope\.airflow-runtime\.yaml:1:1: error: cannot read this runtime file: no such file/);
  });

  it('--format json gives the problems as data', () => {
    const ws = scratchWorkspace();
    writeFileSync(path.join(ws, 'dags/airflow-runtime.yaml'), 'imgae: x\n');
    const { code, stdout } = cli(['validate', '--format', 'json'], ws);
    assert.equal(code, 2);
    const report = JSON.parse(stdout);
    assert.equal(report.files.length, 4);
    assert.deepEqual(report.problems.map((p: { file: string; code: string; start: unknown }) => [p.file, p.code, p.start]), [
      ['dags/airflow-runtime.yaml', 'unknown-key', { line: 1, column: 1 }],
    ]);
  });
});

describe('airflow-runtime resolve', () => {
  it('shows each value with its source', () => {
    const { code, stdout, stderr } = cli(['resolve', 'dags/team_b/regional_reports.py']);
    assert.equal(stderr, '');
    assert.equal(code, 0);
    assert.match(stdout, /^image: airflow-runtime-test\/airflow:3\.3\.2 # dags\/team_b\/airflow-runtime\.yaml:2$/m);
    assert.match(stdout, /^ {2}run: 30m # dags\/team_b\/regional_reports\.airflow-runtime\.yaml:5$/m);
    assert.match(stdout, /^ {2}AIRFLOW_VAR_ENVIRONMENT: dev # dags\/airflow-runtime\.yaml:9$/m);
    assert.match(stdout, /^dagsFolder: \/opt\/airflow\/dags # default$/m);
  });

  it('--format json gives values and sources', () => {
    const { code, stdout } = cli(['resolve', 'dags/team_a/orders_etl.py', '--format', 'json']);
    assert.equal(code, 0);
    const resolved = JSON.parse(stdout);
    assert.equal(resolved.runtime.image, 'airflow-runtime-test/airflow:2.11.2');
    assert.deepEqual(resolved.runtime.env, { AIRFLOW_VAR_ENVIRONMENT: 'dev', TEAM: 'team_a' });
    assert.deepEqual(resolved.runtime.mounts, [{ source: path.join(EXAMPLES, 'include'), target: '/opt/airflow/include', readOnly: true }]);
    assert.equal(resolved.sources['env.TEAM'].file, path.join(EXAMPLES, 'dags/team_a/airflow-runtime.yaml'));
    assert.equal(resolved.sources['env.TEAM'].line, 3);
  });

  it('reads the workspace settings between the defaults and the files', () => {
    const ws = scratchWorkspace();
    const vscodeDir = path.join(ws, '.vscode');
    writeFileSync(path.join(vscodeDir, 'settings.json'), '{\n  // comments are fine\n  "airflowRuntime.pull": "always",\n}\n');
    const { code, stdout } = cli(['resolve', 'dags/team_a/orders_etl.py', '--format', 'json'], ws);
    assert.equal(code, 0);
    const resolved = JSON.parse(stdout);
    assert.equal(resolved.runtime.pull, 'missing', 'dags/airflow-runtime.yaml says missing, and files win over settings');
    assert.deepEqual(resolved.sources.pull, { kind: 'file', file: path.join(ws, 'dags/airflow-runtime.yaml'), line: 4, column: 1 });
    writeFileSync(path.join(vscodeDir, 'settings.json'), '{ "airflowRuntime.defaultImage": 42 }');
    const broken = cli(['resolve', 'dags/team_a/orders_etl.py'], ws);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /\.vscode\/settings\.json:1:34: error: setting airflowRuntime\.defaultImage: `image` must be a string/);
  });

  it('exits 2 with the problems when a runtime file is broken, still showing what is valid', () => {
    const ws = scratchWorkspace();
    writeFileSync(path.join(ws, 'dags/team_b/airflow-runtime.yaml'), 'image: [unclosed\n');
    const { code, stdout, stderr } = cli(['resolve', 'dags/team_b/regional_reports.py'], ws);
    assert.equal(code, 2);
    assert.match(stdout, /^image: airflow-runtime-test\/airflow:2\.11\.2 # dags\/airflow-runtime\.yaml:3$/m);
    assert.match(stdout, /dags\/team_b\/airflow-runtime\.yaml \(ignored: has errors\)/);
    assert.match(stderr, /^dags\/team_b\/airflow-runtime\.yaml:\d+:\d+: error: /m);
  });

  it('a DAG file that does not exist is a usage error', () => {
    const { code, stderr } = cli(['resolve', 'dags/nope.py']);
    assert.equal(code, 2);
    assert.match(stderr, /no such DAG file: dags\/nope\.py/);
  });
});

describe('usage', () => {
  it('--help for the tool and every verb exits 0', () => {
    for (const args of [['--help'], ['validate', '--help'], ['resolve', '-h']]) {
      const { code, stdout } = cli(args);
      assert.equal(code, 0, args.join(' '));
      assert.match(stdout, /Usage/);
    }
  });

  it('no verb, an unknown verb, or an unknown flag exits 2 with usage', () => {
    const none = cli([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /Usage:/);
    const verb = cli(['frobnicate']);
    assert.equal(verb.code, 2);
    assert.match(verb.stderr, /unknown command "frobnicate"/);
    const flag = cli(['validate', '--colour']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /Unknown option '--colour'/);
    assert.match(flag.stderr, /airflow-runtime validate --help/);
    const format = cli(['resolve', 'dags/team_a/orders_etl.py', '--format', 'xml']);
    assert.equal(format.code, 2);
    assert.match(format.stderr, /--format must be yaml or json/);
  });

  it('render: a date that is not a day, a map index that is not a whole number, or missing ids exit 2 before anything runs', () => {
    const date = cli(['render', 'dags/team_a/orders_etl.py', 'orders_etl', 'extract', '--date', '2024-02-30']);
    assert.equal(date.code, 2);
    assert.match(date.stderr, /--date: 2024-02-30 is not a day of the calendar/);
    const index = cli(['render', 'dags/team_a/orders_etl.py', 'orders_etl', 'extract', '--map-index', 'one']);
    assert.equal(index.code, 2);
    assert.match(index.stderr, /--map-index must be a whole number/);
    const ids = cli(['render', 'dags/team_a/orders_etl.py', 'orders_etl']);
    assert.equal(ids.code, 2);
    assert.match(ids.stderr, /render takes <dag_file> <dag_id> <task_id>/);
    assert.match(cli(['render', '--help']).stdout, /airflow tasks render/);
  });
});
