/** Copy mode's archives (no Docker needed): what a copy holds, what it leaves out, what changes, the limits. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { extract } from 'tar-stream';
import { buildContextEntries, checkLimits, firstFileOf, packEntries, snapshotTrees, treeChanges } from '../../src/core/engine/docker/archive';
import { EngineError } from '../../src/core/engine/errors';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'airflow-runtime-archive-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), text);
  }
  return root;
}

/** name -> [type, content or link, mode] of every entry in a tar stream. */
async function unpack(stream: NodeJS.ReadableStream): Promise<Record<string, [string, string, string]>> {
  const out: Record<string, [string, string, string]> = {};
  const reader = extract();
  stream.pipe(reader as unknown as NodeJS.WritableStream);
  for await (const entry of reader) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    const { name, type, linkname, mode, uid, gid } = entry.header;
    assert.deepEqual([uid, gid], [0, 0], name);
    out[name.replace(/\/$/, '')] = [type, type === 'symlink' ? linkname! : Buffer.concat(chunks).toString(), (mode & 0o777).toString(8)];
  }
  return out;
}

describe('copy mode archives', () => {
  it('hold the trees at their targets, readable by all, owned by root; later sources win', async () => {
    const dags = tree({ 'etl.py': 'print(1)\n', 'lib/util.py': 'X = 1\n', 'include/x.sql': 'old' });
    const include = tree({ 'x.sql': 'select 1' });
    writeFileSync(path.join(dags, 'private.py'), 'secret = 1\n', { mode: 0o600 });
    symlinkSync('lib/util.py', path.join(dags, 'link.py'));
    const snapshot = snapshotTrees([{ host: dags, target: '/opt/airflow/dags' }, { host: include, target: '/opt/airflow/dags/include' }]);
    assert.equal(snapshot.files, 4);
    assert.deepEqual(await unpack(packEntries(snapshot.entries.values(), [{ name: 'opt/airflow-runtime/out', mode: 0o777 }])), {
      'opt/airflow-runtime/out': ['directory', '', '777'],
      'opt/airflow/dags': ['directory', '', '755'],
      'opt/airflow/dags/etl.py': ['file', 'print(1)\n', '644'],
      'opt/airflow/dags/include': ['directory', '', '755'],
      'opt/airflow/dags/include/x.sql': ['file', 'select 1', '644'],
      'opt/airflow/dags/lib': ['directory', '', '755'],
      'opt/airflow/dags/lib/util.py': ['file', 'X = 1\n', '644'],
      'opt/airflow/dags/link.py': ['symlink', 'lib/util.py', '777'],
      'opt/airflow/dags/private.py': ['file', 'secret = 1\n', '644'],
    });
  });

  it('a single file goes to its target', async () => {
    const dir = tree({ 'settings.json': '{}' });
    const snapshot = snapshotTrees([{ host: path.join(dir, 'settings.json'), target: '/etc/app/settings.json' }]);
    assert.deepEqual(await unpack(packEntries(snapshot.entries.values())), { 'etc/app/settings.json': ['file', '{}', '644'] });
  });

  it('leave out version control, dependencies, caches and virtualenvs of any name, and say so', () => {
    const root = tree({
      'dag.py': '', '.git/HEAD': '', 'node_modules/x/index.js': '', 'sub/__pycache__/a.pyc': '', '.venv/bin/python': '',
      'my-env/pyvenv.cfg': '', 'my-env/lib/site.py': '', '.airflowignore': 'x', 'sub/keep.py': '',
    });
    const snapshot = snapshotTrees([{ host: root, target: '/d' }]);
    assert.deepEqual([...snapshot.entries.keys()].sort(), ['d', 'd/.airflowignore', 'd/dag.py', 'd/sub', 'd/sub/keep.py']);
    assert.deepEqual(snapshot.skipped.map((p) => path.relative(root, p)).sort(), ['.git', '.venv', 'my-env', 'node_modules', 'sub/__pycache__']);
  });

  it('over the limits: refused, naming the biggest folders', () => {
    const root = tree({ 'dag.py': 'x', 'data/big.csv': 'y'.repeat(5000), 'lib/a.py': 'z'.repeat(100) });
    const snapshot = snapshotTrees([{ host: root, target: '/d' }]);
    assert.doesNotThrow(() => checkLimits(snapshot, [root], { bytes: 10_000, files: 3 }));
    assert.throws(() => checkLimits(snapshot, [root], { bytes: 1000, files: 100 }), (error: EngineError) => {
      assert.equal(error.code, 'bad-runtime');
      assert.match(error.message, new RegExp(`too big: 3 files, 0\\.00 MB \\(at most 100 files and 0\\.00 MB\\); biggest: ${root}/data \\(0\\.00 MB\\), ${root}/lib \\(0\\.00 MB\\), ${root}/dag\\.py`));
      return true;
    });
    assert.throws(() => checkLimits(snapshot, [root], { bytes: 10_000, files: 2 }), /too big: 3 files/);
  });

  it('changes: new, edited (by size or time) and removed entries; a removed folder is named once', () => {
    const root = tree({ 'a.py': 'a', 'b.py': 'b', 'old/x.py': 'x', 'old/y.py': 'y' });
    const before = snapshotTrees([{ host: root, target: '/d' }]).entries;
    writeFileSync(path.join(root, 'a.py'), 'A'); // same size
    const later = new Date(statSync(path.join(root, 'a.py')).mtimeMs + 5000);
    utimesSync(path.join(root, 'a.py'), later, later);
    rmSync(path.join(root, 'old'), { recursive: true });
    writeFileSync(path.join(root, 'c.py'), 'c');
    const { changed, removed } = treeChanges(before, snapshotTrees([{ host: root, target: '/d' }]).entries);
    assert.deepEqual(changed.map((e) => e.name).filter((n) => n !== 'd').sort(), ['d/a.py', 'd/c.py']);
    assert.deepEqual(removed, ['d/old']);
    assert.deepEqual(treeChanges(before, before), { changed: [], removed: [] });
  });

  it('the first file of an archive, as GET /containers/{id}/archive returns one', async () => {
    const root = tree({ 'result.json': '{"ok":true}' });
    const snapshot = snapshotTrees([{ host: path.join(root, 'result.json'), target: 'result.json' }]);
    assert.equal((await firstFileOf(packEntries(snapshot.entries.values())))?.toString(), '{"ok":true}');
    assert.equal(await firstFileOf(packEntries([])), undefined);
  });
});

describe('build contexts', () => {
  it('honour .dockerignore as the docker CLI does: patterns, exceptions, and the Dockerfile always sent', () => {
    const context = tree({
      Dockerfile: 'FROM x', '.dockerignore': 'Dockerfile\n.git\n*.log\ndata\n!data/keep.txt\nnode_modules\n',
      'app.py': '', 'debug.log': '', 'sub/trace.log': '', 'data/big.bin': '', 'data/keep.txt': '', '.git/HEAD': '', 'node_modules/m/i.js': '', 'requirements.txt': '',
    });
    // `*.log` matches at the top only, as in Docker (`**/*.log` would match anywhere).
    assert.deepEqual(buildContextEntries(context, 'Dockerfile').filter((e) => e.type === 'file').map((e) => e.name).sort(), [
      '.dockerignore', 'Dockerfile', 'app.py', 'data/keep.txt', 'requirements.txt', 'sub/trace.log',
    ]);
  });

  it('without .dockerignore everything goes, with the host\'s modes', () => {
    const context = tree({ Dockerfile: 'FROM x', 'node_modules/m/i.js': '', '.git/HEAD': '' });
    writeFileSync(path.join(context, 'run.sh'), '#!/bin/sh\n', { mode: 0o700 });
    const entries = buildContextEntries(context, 'Dockerfile');
    assert.deepEqual(entries.filter((e) => e.type === 'file').map((e) => e.name).sort(), ['.git/HEAD', 'Dockerfile', 'node_modules/m/i.js', 'run.sh']);
    assert.equal(entries.find((e) => e.name === 'run.sh')!.mode, 0o700);
  });
});
