/**
 * The host powers a runtime file can ask for (src/core/runtime/hostPowers.ts), refused at the runtime file's line
 * unless the person grants them: the hostile probe's ways out of issue 21, each as a specification.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { hostAccessOf } from '../../src/cli/runtimeFor';
import { FIELD_CHECKS } from '../../src/core/runtime/checks';
import { HOST_POWERS, hostAccessFromEnvironment } from '../../src/core/runtime/hostPowers';
import { readRuntimeFile, readRuntimeText } from '../../src/core/runtime/read';
import { resolveRuntime } from '../../src/core/runtime/resolve';
import { runtimeSchema } from '../../src/core/runtime/schema';
import { read, where } from './helpers';

const GRANTED = { allowed: true, by: '--allow-host-access' };

/** A real folder with the given files (folders end with '/'), symlinks resolved in its path. */
function workspace(files: Record<string, string>): string {
  const root = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'host-powers-')));
  for (const [name, text] of Object.entries(files)) {
    const full = path.join(root, name);
    mkdirSync(name.endsWith('/') ? full : path.dirname(full), { recursive: true });
    if (!name.endsWith('/')) writeFileSync(full, text);
  }
  return root;
}

describe('the table of host powers', () => {
  it('every field of the schema has a check or says it opens nothing: a new field cannot skip the question', () => {
    assert.deepEqual(Object.keys(FIELD_CHECKS).sort(), Object.keys(runtimeSchema.properties ?? {}).sort());
  });

  it('each power says what it opens and where it is refused; the README\'s threat model has a row for each', () => {
    const readme = readFileSync(path.join(__dirname, '../../README.md'), 'utf8');
    for (const [name, power] of Object.entries(HOST_POWERS)) {
      assert.ok(power.opens && power.field && power.checkedWhen, name);
      assert.match(readme, new RegExp(`\\| \`${name}\` \\|`), `README threat model row for ${name}`);
    }
  });
});

describe('AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS grants only for 1, true or yes', () => {
  it('off, 2, enabled, an empty value and anything else grant nothing', () => {
    for (const value of ['off', 'OFF', '2', 'enabled', 'y', '', ' ', '0', 'false', 'no', 'none']) {
      assert.equal(hostAccessFromEnvironment({ AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS: value }).allowed, false, value);
      assert.equal(hostAccessOf(undefined, { AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS: value }).allowed, false, value);
    }
  });

  it('1, true and yes (any case) grant, and say by what', () => {
    for (const value of ['1', 'true', 'TRUE', 'yes', 'Yes']) {
      assert.deepEqual(hostAccessOf(undefined, { AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS: value }), { allowed: true, by: `AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS=${value}` });
    }
  });
});

describe('network: only none, bridge and default are the runtime file\'s to choose (item 3)', () => {
  const hostile = ['host', 'Host', 'HOST', 'container:airflow-api', 'container:3f4e5d6c7b8a', 'ns:/proc/1/ns/net', 'service:x',
    '3f4e5d6c7b8a9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80', 'my-compose_default'];

  for (const network of hostile) {
    it(`\`network: ${network}\` is refused at its line and left out`, () => {
      const file = read(`image: x\nnetwork: "${network}"\n`);
      assert.deepEqual(where(file), ['2:10 error host-access']);
      assert.match(file.problems[0].message, /a runtime file cannot open the host by itself; if you trust it, allow host access: --allow-host-access/);
      assert.equal(file.values.network, undefined);
    });
  }

  it('none, bridge and default need no grant', () => {
    for (const network of ['none', 'bridge', 'default']) assert.deepEqual(read(`network: ${network}\n`).problems, [], network);
  });

  it('granted, it is kept and the grant is said', () => {
    const file = readRuntimeFile('/ws/dags/airflow-runtime.yaml', 'network: container:db\n', { workspaceRoot: '/ws', probe: { kind: () => undefined }, hostAccess: GRANTED });
    assert.deepEqual(where(file), ['1:10 warning host-access']);
    assert.match(file.problems[0].message, /joins another network namespace.*: allowed by --allow-host-access$/);
    assert.equal(file.values.network, 'container:db');
  });
});

describe('a writable mount of what the host runs is a host power (item 2)', () => {
  const files = {
    '.git/config': '[core]\n', '.git/hooks/pre-commit.sample': '', '.vscode/settings.json': '{}', '.envrc': 'export X=1\n',
    'data/raw/part-0.csv': 'a,b\n', 'vendor/lib/.git': 'gitdir: ../../.git/modules/lib\n', 'dags/etl.py': '',
  };
  const readIn = (root: string, mounts: string, hostAccess = { allowed: false }) => {
    const file = path.join(root, 'dags', 'airflow-runtime.yaml');
    return readRuntimeFile(file, `image: x\nmounts:\n${mounts}`, { workspaceRoot: root, hostAccess });
  };

  it('the workspace, writable: refused at the source\'s line, with a way that works', () => {
    const root = workspace(files);
    const file = readIn(root, '  - source: ..\n    target: /opt/ws\n    readOnly: false\n');
    assert.deepEqual(where(file), ['3:13 error host-access']);
    assert.match(file.problems[0].message, /^mount source "\.\." is writable and holds \.(git|vscode|envrc) \(.*\): DAG code could write what git, the editor, direnv or CI run on the host: a runtime file cannot open the host by itself; mount a subfolder that holds none of them, or set `readOnly: true`; if you trust it, allow host access/);
    assert.deepEqual(file.values.mounts ?? [], []);
  });

  it('a control folder itself, a folder in one, a control file, a folder holding a nested repository: all refused', () => {
    const root = workspace(files);
    const cases: [string, RegExp][] = [
      ['../.git', /is writable and is \.git:/], ['../.git/hooks', /is writable and lies in \.git:/], ['../.vscode', /is \.vscode/],
      ['../.envrc', /is \.envrc/], ['../vendor', /holds \.git \(lib\/\.git\)/],
    ];
    for (const [source, message] of cases) {
      const file = readIn(root, `  - source: ${source}\n    target: /m\n    readOnly: false\n`);
      assert.deepEqual(where(file), ['3:13 error host-access'], source);
      assert.match(file.problems[0].message, message, source);
    }
  });

  it('read-only, or a writable folder that holds none of them, is fine; a grant opens the rest and says so', () => {
    const root = workspace(files);
    assert.deepEqual(readIn(root, '  - source: ..\n    target: /opt/ws\n').problems, []);
    assert.deepEqual(readIn(root, '  - source: ../data\n    target: /data\n    readOnly: false\n').problems, []);
    const granted = readIn(root, '  - source: ..\n    target: /opt/ws\n    readOnly: false\n', GRANTED);
    assert.deepEqual(where(granted), ['3:13 warning host-access']);
    assert.equal(granted.values.mounts?.length, 1);
  });
});

describe('runtime files that are not runtime files (item 12, partial items)', () => {
  it('3,000 levels of [ are refused at their line before anything recursive reads them', () => {
    const file = read(`image: x\nenv: ${'['.repeat(3000)}${']'.repeat(3000)}\n`);
    assert.equal(file.ignored, true);
    assert.deepEqual(where(file), ['2:69 error yaml-syntax']);
    assert.match(file.problems[0].message, /nested more than 64 levels deep/);
  });

  it('deep block nesting and `- - - …` are refused too', () => {
    const block = read(`variables:\n${Array.from({ length: 100 }, (_, i) => `${'  '.repeat(i + 1)}k${i}:`).join('\n')} 1\n`);
    assert.match(block.problems[0].message, /nested more than 64 levels deep/);
    const dashes = read(`mounts:\n  ${'- '.repeat(5000)}x\n`);
    assert.deepEqual(where(dashes), ['2:129 error yaml-syntax']);
  });

  it('20,000 keys are refused at the key past the limit, at once', () => {
    const text = `env:\n${Array.from({ length: 20_000 }, (_, i) => `  K${i}: v`).join('\n')}\n`;
    const started = Date.now();
    const file = read(text);
    const ms = Date.now() - started;
    assert.deepEqual(where(file), ['2001:8 error yaml-syntax']);
    assert.match(file.problems[0].message, /more than 2000 keys and list items/);
    assert.ok(ms < 5000, `${ms} ms (it took 22-38 s before)`); // generous: a loaded machine, yet far from before
  });

  it('an ordinary runtime file, with JSON Variables a few levels deep, is read as before', () => {
    const file = read('image: x\nvariables:\n  cfg: {"a": [1, {"b": [2, {"c": 3}]}]}\nairflowConfig:\n  core:\n    parallelism: 8\n');
    assert.deepEqual(file.problems, []);
  });

  it('a runtime file that is a symlink to a file outside the project is not read, and its text never shown', () => {
    const outside = workspace({ 'team.yaml': 'image: x\nleaked_token_value: 1\n' });
    const root = workspace({ 'dags/etl.py': 'from airflow import DAG\n', 'dags/own.yaml': 'image: inside\n', '.git/': '' });
    symlinkSync(path.join(outside, 'team.yaml'), path.join(root, 'dags', 'airflow-runtime.yaml'));
    const runtime = resolveRuntime(path.join(root, 'dags', 'etl.py'), { workspaceRoot: root, readText: readRuntimeText });
    assert.deepEqual(runtime.problems.map((p) => `${p.start.line}:${p.start.column} ${p.severity} ${p.code}`), ['1:1 error unreadable-file']);
    assert.match(runtime.problems[0].message, /is a symlink to a file outside the project, and is not read/);
    assert.doesNotMatch(JSON.stringify(runtime), /leaked_token_value/);
    assert.equal(runtime.values.image, 'apache/airflow:2.11.2');
    // a symlink to a file inside the project is the project's own
    symlinkSync(path.join(root, 'dags', 'own.yaml'), path.join(root, 'dags', 'etl.airflow-runtime.yaml'));
    const own = readRuntimeFile(path.join(root, 'dags', 'etl.airflow-runtime.yaml'), 'image: inside\n', { workspaceRoot: root });
    assert.deepEqual(own.problems, []);
  });

  it('dagsFolder values Docker cannot mount are errors at their line, not raw Docker errors', () => {
    const cases: [string, RegExp][] = [
      ['/', /is the root of the runtime's file system/], ['/proc', /is inside \/proc, which the kernel owns/], ['/sys/x', /inside \/sys/],
      ['/opt/a:b', /holds ":"/],
    ];
    for (const [value, message] of cases) {
      const file = read(`dagsFolder: "${value}"\n`);
      assert.deepEqual(where(file), ['1:13 error bad-value'], value);
      assert.match(file.problems[0].message, message, value);
      assert.equal(file.values.dagsFolder, undefined);
    }
    assert.deepEqual(read('dagsFolder: /usr/local/airflow/dags\n').problems, []);
  });

  it('a NUL byte or a space in `image` is an error at its line', () => {
    for (const image of ['"apache/airflow\\0:2.11.2"', '"apache/airflow :2"', '"a\\tb"']) {
      const file = read(`pull: never\nimage: ${image}\n`);
      assert.deepEqual(where(file), ['2:8 error bad-value'], image);
      assert.match(file.problems[0].message, /an image reference is \[registry\/\]name\[:tag\]\[@digest\]/);
    }
  });
});
