import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { cursorContext, hoverAt, suggestionsAt } from '../../src/core/runtime/editing';
import { runtimeFileTemplate } from '../../src/core/runtime/template';
import { readRuntimeFile } from '../../src/core/runtime/read';
import { read } from './helpers';

/** The text with `|` marking the cursor, as (text, line, character). */
function at(marked: string): [string, number, number] {
  const offset = marked.indexOf('|');
  const text = marked.replace('|', '');
  const before = text.slice(0, offset).split('\n');
  return [text, before.length - 1, before[before.length - 1].length];
}

const labels = (marked: string) => suggestionsAt(...at(marked)).map((s) => s.label);

describe('completion in a runtime file', () => {
  it('offers the top-level keys of the schema in an empty file', () => {
    const keys = labels('|');
    for (const key of ['image', 'pull', 'build', 'local', 'env', 'mounts', 'timeouts', 'airflowConfig', 'dagsFolder']) assert.ok(keys.includes(key), key);
  });

  it('leaves out keys already present in the same mapping, before and after the cursor', () => {
    const keys = labels('image: x\n|\npull: never\n');
    assert.ok(!keys.includes('image') && !keys.includes('pull'));
    assert.ok(keys.includes('env'));
  });

  it('offers the keys of a nested mapping', () => {
    assert.deepEqual(labels('image: x\ntimeouts:\n  |').sort(), ['parse', 'run', 'start']);
    assert.deepEqual(labels('timeouts:\n  parse: 30s\n  |').sort(), ['run', 'start']);
  });

  it('offers the keys of a list item, on the dash line and below it', () => {
    assert.ok(labels('mounts:\n  - |').includes('source'));
    const below = labels('mounts:\n  - source: ../include\n    |');
    assert.ok(below.includes('target') && !below.includes('source'));
  });

  it('offers the enum values of a key, the default first', () => {
    const values = suggestionsAt(...at('pull: |'));
    assert.deepEqual(values.map((v) => v.label), ['missing', 'always', 'never']);
    assert.equal(values[0].isDefault, true);
  });

  it('offers true and false for a boolean and examples for a string', () => {
    assert.ok(labels('mounts:\n  - source: x\n    readOnly: |').includes('false'));
    assert.ok(labels('image: |').includes('apache/airflow:2.11.2'));
  });

  it('offers nothing inside a comment or under a free-form map', () => {
    assert.deepEqual(labels('# ima|'), []);
    assert.deepEqual(labels('env:\n  |'), []);
  });

  it('knows where the cursor is in deeper nesting', () => {
    const context = cursorContext(...at('build:\n  context: .\n  args:\n    VERSION: |'));
    assert.deepEqual(context?.parentPath, ['build', 'args']);
    assert.equal(context?.position, 'value');
    assert.equal(context?.key, 'VERSION');
  });
});

describe('hover in a runtime file', () => {
  it('shows the schema documentation of the key under the cursor', () => {
    const hover = hoverAt(...at('timeouts:\n  pa|rse: 30s\n'));
    assert.ok(hover);
    assert.match(hover.markdown, /\*\*.*\*\* `timeouts\.parse`/);
    assert.equal(hover.start, 2);
    assert.equal(hover.end, 7);
  });

  it('shows the map\'s documentation for a free-form key', () => {
    const hover = hoverAt(...at('env:\n  MY_V|AR: x\n'));
    assert.ok(hover);
    assert.match(hover.markdown, /`env\.MY_VAR`/);
  });

  it('shows nothing for an unknown key', () => {
    assert.equal(hoverAt(...at('imagee|: x\n')), undefined);
  });
});

describe('the runtime file template', () => {
  it('is a valid runtime file that keeps the image the DAG file already gets', () => {
    const text = runtimeFileTemplate({ dagFile: '/ws/dags/etl.py' });
    const file = read(text, '/ws/dags/etl.airflow-runtime.yaml');
    assert.deepEqual(file.problems, []);
    assert.deepEqual(file.values, { image: 'apache/airflow:2.11.2' });
  });

  it('in an Astro project\'s root, names the requirements.txt and packages.txt that Astro installs', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'airflow-runtime-astro-'));
    try {
      mkdirSync(path.join(root, '.astro'));
      writeFileSync(path.join(root, 'requirements.txt'), 'six==1.16.0\n');
      writeFileSync(path.join(root, 'packages.txt'), '');
      const text = runtimeFileTemplate({ folder: root });
      const file = readRuntimeFile(path.join(root, 'airflow-runtime.yaml'), text, { workspaceRoot: root });
      assert.deepEqual(file.problems, []);
      assert.deepEqual(file.values, { image: 'apache/airflow:2.11.2', requirements: 'requirements.txt', packages: 'packages.txt' });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('every commented field is valid once uncommented', () => {
    const text = runtimeFileTemplate({ folder: '/ws/dags' }).split('\n').map((line) => line.replace(/^# (?=[a-zA-Z]+:)/, '').replace(/^#(?=\s{2,}\S)/, '')).join('\n');
    const file = read(text.replace('requirements: requirements.txt', 'python: python3'));
    assert.deepEqual(file.problems.map((p) => p.message), []);
    assert.ok(file.values.timeouts?.parse && file.values.airflowConfig?.core && file.values.env);
  });
});
