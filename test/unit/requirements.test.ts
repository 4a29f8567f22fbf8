/** `requirements` and `packages` in a runtime file: each line read as pip reads it, each complaint at its line. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { readRuntimeFile, readRuntimeText } from '../../src/core/runtime/read';
import type { HostAccess } from '../../src/core/runtime/hostPowers';
import { dependenciesOf, requirementLines, withIncludes } from '../../src/core/runtime/requirements';
import { resolveRuntime } from '../../src/core/runtime/resolve';
import { additionsOf } from '../../src/core/engine/docker/requirementsImage';

const ROOT = mkdtempSync(path.join(os.tmpdir(), 'airflow-runtime-requirements-'));
after(() => rmSync(ROOT, { recursive: true, force: true }));

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(ROOT, 'ws-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

function readIn(dir: string, hostAccess: HostAccess = { allowed: false }) {
  const file = path.join(dir, 'airflow-runtime.yaml');
  return readRuntimeFile(file, readFileSync(file, 'utf8'), { workspaceRoot: dir, hostAccess });
}

const at = (problems: { file: string; start: { line: number }; severity: string; code: string }[], dir: string) =>
  problems.map((p) => `${path.relative(dir, p.file)}:${p.start.line} ${p.severity} ${p.code}`);

describe('requirement lines', () => {
  it('reads names, versions, extras, markers, URLs, options, comments and continuations as pip does', () => {
    const lines = requirementLines([
      '# a comment',
      'pandas==2.2.3  # pinned',
      'requests[socks] >=2.31, <3 ; python_version >= "3.9"',
      'Apache_Airflow-Providers-HTTP',
      'tzdata @ https://example.invalid/tzdata-2024.1-py2.py3-none-any.whl',
      '--extra-index-url https://pypi.example.invalid/simple',
      'six \\',
      '  ==1.16.0',
      '-e ./lib',
      'not a requirement!',
    ].join('\n'), '/ws');
    assert.deepEqual(lines.map((l) => [l.line, l.name ?? l.localPath ?? l.problem ?? l.text]), [
      [2, 'pandas'], [3, 'requests'], [4, 'Apache_Airflow-Providers-HTTP'], [5, 'tzdata'],
      [6, '--extra-index-url https://pypi.example.invalid/simple'], [7, 'six'], [9, '/ws/lib'],
      [10, 'pip cannot read "not a requirement!" as a requirement (a name, then versions such as ==1.2 or >=1.0,<2)'],
    ]);
  });
});

describe('requirements and packages in a runtime file', () => {
  it('a file and a list are valid, and the file is made absolute in the effective runtime', () => {
    const dir = project({ 'airflow-runtime.yaml': 'image: airflow:3.3.2\nrequirements: requirements.txt\npackages: [libpq5, git]\n', 'requirements.txt': 'six==1.16.0\n', 'dags/a.py': '' });
    assert.deepEqual(readIn(dir).problems, []);
    const runtime = resolveRuntime(path.join(dir, 'dags/a.py'), { workspaceRoot: dir, readText: readRuntimeText });
    assert.equal(runtime.values.requirements, path.join(dir, 'requirements.txt'));
    assert.deepEqual(runtime.values.packages, ['libpq5', 'git']);
    assert.equal(runtime.sources.requirements.kind, 'file');
  });

  it('a missing requirements file is an error at the runtime file\'s line', () => {
    const dir = project({ 'airflow-runtime.yaml': 'image: airflow:3.3.2\nrequirements: nowhere.txt\n' });
    const file = readIn(dir);
    assert.deepEqual(at(file.problems, dir), ['airflow-runtime.yaml:2 error missing-path']);
    assert.match(file.problems[0].message, /requirements file "nowhere.txt" does not exist/);
    assert.equal(file.values.requirements, undefined);
  });

  it('a line pip cannot read is an error at that line of the requirements file', () => {
    const dir = project({ 'airflow-runtime.yaml': 'requirements: requirements.txt\n', 'requirements.txt': 'six\n\n--frobnicate\npandas = = 2\n' });
    const file = readIn(dir);
    assert.deepEqual(at(file.problems, dir), ['requirements.txt:3 error bad-value', 'requirements.txt:4 error bad-value']);
    assert.match(file.problems[0].message, /pip does not read the option "--frobnicate"/);
  });

  it('a list item pip cannot read is an error at that item', () => {
    const dir = project({ 'airflow-runtime.yaml': 'requirements:\n  - six\n  - "six === ="\n' });
    assert.deepEqual(at(readIn(dir).problems, dir), ['airflow-runtime.yaml:3 error bad-value']);
  });

  it('-e and local paths outside the workspace are refused unless host access is granted; inside they are fine', () => {
    const outside = mkdtempSync(path.join(ROOT, 'outside-'));
    const dir = project({ 'airflow-runtime.yaml': 'requirements: requirements.txt\n', 'requirements.txt': `-e ./lib\n-e ${outside}\nfile://${outside}\n`, 'lib/setup.py': '' });
    const refused = readIn(dir);
    assert.deepEqual(at(refused.problems, dir), ['requirements.txt:2 error host-access', 'requirements.txt:3 error host-access']);
    assert.match(refused.problems[0].message, /outside the workspace.*allow host access/);
    const granted = readIn(dir, { allowed: true, by: '--allow-host-access' });
    assert.deepEqual(at(granted.problems, dir), ['requirements.txt:2 warning host-access', 'requirements.txt:3 warning host-access']);
    assert.equal(granted.values.requirements, 'requirements.txt');
  });

  it('a packages file line that is no Debian package name is an error at its line; a wrong type at the key', () => {
    const dir = project({ 'airflow-runtime.yaml': 'packages: packages.txt\nrequirements: 3\n', 'packages.txt': 'libpq5\nlib pq; rm -rf /\n' });
    const file = readIn(dir);
    assert.deepEqual(at(file.problems, dir), ['packages.txt:2 error bad-value', 'packages.txt:2 error bad-value', 'packages.txt:2 error bad-value', 'airflow-runtime.yaml:2 error wrong-type']);
  });
});

describe('-r and -c includes', () => {
  const files = {
    'airflow-runtime.yaml': 'image: airflow:3.3.2\nrequirements: requirements.txt\n',
    'requirements.txt': '# ours\n-r reqs/base.txt\npandas==2.2.3\n-c reqs/pins.txt\n',
    'reqs/base.txt': 'six==1.16.0\n-r more.txt\n',
    'reqs/more.txt': 'inflection==0.5.1\n-r base.txt\n',
    'reqs/pins.txt': 'numpy<2\n',
    'dags/a.py': '',
  };

  it('are followed: an included line stands at the line of the -r that includes it; -c lines are constraints', () => {
    const dir = project(files);
    const top = requirementLines(readFileSync(path.join(dir, 'requirements.txt'), 'utf8'), dir);
    const { requirements, constraints } = withIncludes(top, (file) => readFileSync(file, 'utf8'));
    assert.deepEqual(requirements.map((r) => [r.line, r.text]), [[2, 'six==1.16.0'], [2, 'inflection==0.5.1'], [3, 'pandas==2.2.3']]);
    assert.deepEqual(constraints.map((r) => [r.line, r.text]), [[4, 'numpy<2']]);
  });

  it('are part of the runtime: an edit of an included file is an edit of the runtime', () => {
    const dir = project(files);
    assert.deepEqual(dependenciesOf({ requirements: 'requirements.txt' }, dir).map((f) => path.relative(dir, f)), ['requirements.txt', 'reqs/base.txt', 'reqs/more.txt', 'reqs/pins.txt']);
  });

  it('a missing included file is an error at the including line; one outside the workspace needs host access', () => {
    const missing = project({ ...files, 'requirements.txt': 'six\n-r nowhere.txt\n' });
    assert.deepEqual(at(readIn(missing).problems, missing), ['requirements.txt:2 error bad-value']);
    const outside = project({ ...files, 'requirements.txt': `six\n-r ${path.join(ROOT, 'shared.txt')}\n` });
    writeFileSync(path.join(ROOT, 'shared.txt'), 'inflection\n');
    assert.deepEqual(at(readIn(outside).problems, outside), ['requirements.txt:2 error host-access']);
    assert.deepEqual(at(readIn(outside, { allowed: true }).problems, outside), ['requirements.txt:2 warning host-access']);
  });

  it('what an included file says is checked too, at the including line: a local path outside, a line pip cannot read', () => {
    const elsewhere = mkdtempSync(path.join(ROOT, 'private-'));
    const dir = project({ ...files, 'requirements.txt': 'six\n-r reqs/inner.txt\n', 'reqs/inner.txt': `inflection\n-e ${elsewhere}\nnot a requirement!\n` });
    const problems = readIn(dir).problems;
    assert.deepEqual(at(problems, dir), ['requirements.txt:2 error host-access', 'requirements.txt:2 error bad-value']);
    assert.match(problems.find((p) => p.code === 'host-access')!.message, /in inner\.txt, line 2\).*outside the workspace/);
    assert.match(problems.find((p) => p.code === 'bad-value')!.message, /in inner\.txt, line 3\)/);
    assert.equal(readIn(dir).values.requirements, undefined, 'a requirement outside the workspace is not installed');
  });
});

describe('a requirements list\'s local paths', () => {
  it('are read against its runtime file\'s folder, as its checks read them, and refused where that is unknown', () => {
    const dir = project({ 'airflow-runtime.yaml': 'image: airflow:3.3.2\nrequirements: ["-e ./lib"]\n', 'lib/setup.py': 'print("ours")\n' });
    assert.deepEqual(readIn(dir).problems, []);
    const listed = additionsOf({ requirements: ['-e ./lib'] }, { sources: { requirements: { kind: 'file', file: path.join(dir, 'airflow-runtime.yaml'), line: 2, column: 15 } } });
    assert.equal(listed.requirements[0].localPath, path.join(dir, 'lib'));
    assert.throws(() => additionsOf({ requirements: ['-e ./lib'] }), /local path.*runtime file of its list is not known/);
    assert.equal(additionsOf({ requirements: ['inflection==0.5.1'] }).requirements[0].name, 'inflection');
  });
});
