import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readRuntimeFile } from '../../src/core/runtime/read';
import { fakeDisk, read, ROOT, where } from './helpers';

describe('reading a valid runtime file', () => {
  it('keeps every value and its position', () => {
    const file = read([
      'image: airflow:2.11.2',         // 1
      'pull: never',                   // 2
      'env:',                          // 3
      '  TEAM: a',                     // 4
      'timeouts: {parse: 30s, run: 2h}', // 5
      'resources:',                    // 6
      '  memory: 2g',                  // 7
      '  cpus: 1.5',                   // 8
    ].join('\n'));
    assert.deepEqual(file.problems, []);
    assert.equal(file.ignored, false);
    assert.deepEqual(file.values, {
      image: 'airflow:2.11.2', pull: 'never', env: { TEAM: 'a' }, timeouts: { parse: '30s', run: '2h' }, resources: { memory: '2g', cpus: 1.5 },
    });
    assert.deepEqual(file.locations.get('env.TEAM')?.key?.start, { line: 4, column: 3 });
    assert.deepEqual(file.locations.get('timeouts.run')?.value.start, { line: 5, column: 29 });
  });

  it('accepts YAML anchors and merge keys', () => {
    const file = read('x-env: &common\n  A: "1"\nenv:\n  <<: *common\n  B: "2"\n');
    assert.deepEqual(where(file), ['1:1 error unknown-key']);
    assert.deepEqual(file.values.env, { A: '1', B: '2' });
  });

  it('scopes a file by its name', () => {
    assert.equal(read('image: x', '/ws/dags/etl.airflow-runtime.yaml').scope, 'dag');
    assert.equal(read('image: x', '/ws/dags/airflow-runtime.yaml').scope, 'folder');
  });
});

describe('bad input yields problems at their line and column', () => {
  it('YAML syntax errors, and the file is ignored', () => {
    const file = read('image: a\nenv:\n  A: [1, 2\npull: never\n');
    assert.equal(file.ignored, true);
    assert.deepEqual(file.values, {});
    assert.ok(file.problems.every((p) => p.code === 'yaml-syntax' && p.severity === 'error'));
    assert.equal(file.problems[0].start.line, 4);
    assert.match(file.problems.at(-1)!.message, /ignored until its YAML syntax is fixed/);
  });

  it('a tab used for indentation', () => {
    const file = read('env:\n\tA: b\n');
    assert.equal(file.ignored, true);
    assert.deepEqual(file.problems[0].start, { line: 2, column: 1 });
  });

  it('duplicate keys', () => {
    const file = read('image: a\nimage: b\n');
    assert.deepEqual(file.problems[0].start, { line: 2, column: 1 });
    assert.match(file.problems[0].message, /unique/i);
  });

  it('an empty file is a warning, and changes nothing', () => {
    for (const text of ['', '\n\n', '# just a comment\n']) {
      const file = read(text);
      assert.deepEqual(where(file), ['1:1 warning empty-file'], JSON.stringify(text));
      assert.deepEqual(file.values, {});
      assert.equal(file.ignored, false);
    }
  });

  it('a file that is not a mapping', () => {
    assert.deepEqual(where(read('- image: a\n')), ['1:1 error not-a-mapping']);
    assert.deepEqual(where(read('\n  just text\n')), ['2:3 error not-a-mapping']);
  });

  it('unknown keys, with a did-you-mean, at the key', () => {
    const file = read('image: a\nimgae: b\nbuild:\n  context: .\n  dockerfle: X\nzzz: 1\n', undefined, fakeDisk('dags/', 'dags/Dockerfile'));
    const messages = file.problems.map((p) => `${p.start.line}:${p.start.column} ${p.message}`);
    assert.deepEqual(messages, [
      '2:1 unknown key "imgae"; did you mean "image"?',
      '5:3 unknown key "dockerfle" in `build`; did you mean "dockerfile"?',
      `6:1 unknown key "zzz"; expected one of: image, pull, build, requirements, packages, local, env, envFile, variables, connections, mounts, pythonPath, dagsFolder, network, user, resources, timeouts, deploy, airflowConfig`,
    ]);
    assert.deepEqual(file.values, { image: 'a', build: { context: '.' } });
  });

  it('wrong types, at the value', () => {
    const file = read('image: 3\npull: [a]\nenv: yes\nmounts: {}\ntimeouts:\n  parse: true\n');
    assert.deepEqual(where(file), ['1:8 error wrong-type', '2:7 error wrong-type', '3:6 error wrong-type', '4:9 error wrong-type', '6:10 error wrong-type']);
    assert.match(file.problems[0].message, /`image` must be a string, not the number 3/);
    assert.match(file.problems[2].message, /`env` must be a mapping, not the string "yes"/);
    assert.deepEqual(file.values, {});
  });

  it('bad enum values, with a did-you-mean', () => {
    const file = read('pull: allways\n');
    assert.deepEqual(where(file), ['1:7 error bad-value']);
    assert.equal(file.problems[0].message, '`pull` must be one of always, missing, never, not "allways"; did you mean "always"?');
  });

  it('unparsable durations and sizes', () => {
    const file = read('timeouts:\n  parse: 30x\n  run: 0\nresources:\n  memory: 2q\n  cpus: -1\n');
    assert.deepEqual(where(file), ['2:10 error bad-duration', '3:8 error bad-value', '5:11 error bad-size', '6:9 error bad-value']);
    assert.match(file.problems[0].message, /"30x" is not a duration; write seconds or a number with s, m or h \(30s, 5m, 1h\)/);
    assert.match(file.problems[2].message, /"2q" is not a size; write bytes or a number with k, m or g \(512m, 2g\)/);
  });

  it('invalid names of environment variables and Airflow settings', () => {
    const file = read('env:\n  GOOD: a\n  1BAD: b\nairflowConfig:\n  core:\n    bad-key: 1\n');
    assert.deepEqual(where(file), ['3:3 error bad-value', '6:5 error bad-value']);
    assert.deepEqual(file.values, { env: { GOOD: 'a' } });
  });

  it('a mount without a target, and a relative target', () => {
    const file = read('mounts:\n  - source: .\n  - source: .\n    target: rel\n', undefined, fakeDisk('dags/'));
    assert.deepEqual(where(file), ['2:5 error missing-key', '4:13 error bad-value']);
    assert.deepEqual(file.values, { mounts: [] });
  });

  it('files and folders that do not exist', () => {
    const disk = fakeDisk('dags/', 'dags/docker/');
    const file = read('envFile: .env\nbuild:\n  context: docker\nlocal:\n  requirements: req.txt\nmounts:\n  - source: ../include\n    target: /x\n', undefined, disk);
    assert.deepEqual(where(file), ['1:10 error missing-path', '2:1 error missing-path', '5:17 error missing-path', '7:13 error missing-path']);
    assert.match(file.problems[0].message, /envFile "\.env" does not exist \(looked at \/ws\/dags\/\.env\)/);
    assert.match(file.problems[1].message, /Dockerfile "Dockerfile" does not exist in the build context/);
    assert.deepEqual(file.values, { mounts: [] });
  });

  it('a missing build context', () => {
    const file = read('build:\n  context: nope\n', undefined, fakeDisk('dags/'));
    assert.deepEqual(where(file), ['2:12 error missing-path']);
    assert.deepEqual(file.values, {});
  });

  it('a runtime file cannot open the host by itself: outside the workspace, sockets, the host network', () => {
    const disk = fakeDisk('dags/', '../shared/', '../secrets.env', '../ctx/Dockerfile');
    const hostile = [
      'mounts:',
      '  - source: ../../shared',          // 2: outside
      '    target: /x',
      '    readOnly: false',
      '    allowOutsideWorkspace: true',   // no longer grants anything by itself
      'envFile: ../../secrets.env',        // 6
      'build:',
      '  context: ../../ctx',              // 8
      'network: host',                     // 9
    ].join('\n');
    const refused = read(hostile, undefined, disk);
    assert.deepEqual(where(refused), ['2:13 error host-access', '6:10 error host-access', '8:12 error host-access', '9:10 error host-access']);
    assert.match(refused.problems[0].message, /^mount source "\.\.\/\.\.\/shared" is outside the workspace \(\/shared, writable\) \(allowOutsideWorkspace alone no longer allows it\): a runtime file cannot open the host by itself; if you trust it, allow host access: --allow-host-access/);
    assert.deepEqual(refused.values, { mounts: [] }, 'what opens the host is left out');

    const granted = readRuntimeFile('/ws/dags/airflow-runtime.yaml', hostile, { workspaceRoot: ROOT, probe: disk, hostAccess: { allowed: true, by: '--allow-host-access' } });
    assert.deepEqual(where(granted), ['2:13 warning host-access', '6:10 warning host-access', '8:12 warning host-access', '9:10 warning host-access']);
    assert.match(granted.problems[0].message, /: allowed by --allow-host-access$/);
    assert.equal(granted.values.mounts?.length, 1);
  });

  it('symlinks are followed, and sockets (the Docker socket) are refused wherever they are', () => {
    const kinds: Record<string, 'file' | 'directory' | 'socket'> = {
      '/ws': 'directory', '/ws/dags': 'directory', '/ws/dags/link': 'socket', '/var/run': 'directory', '/var/run/docker.sock': 'socket', '/ws/dags/run': 'directory',
    };
    const probe = { kind: (p: string) => kinds[p], realpath: (p: string) => ({ '/ws/dags/link': '/var/run/docker.sock', '/ws/dags/run': '/var/run' } as Record<string, string>)[p] ?? p };
    const viaLink = read('mounts:\n  - {source: link, target: /var/run/docker.sock}\n', undefined, probe);
    assert.match(viaLink.problems[0].message, /^mount source "link" is a socket \(a host service: the Docker socket is full control of the host\)/);
    const folder = read('mounts:\n  - {source: run, target: /r}\n', undefined, probe);
    assert.match(folder.problems[0].message, /^mount source "run" holds the socket \/var\/run\/docker\.sock/);
    assert.deepEqual(folder.values, { mounts: [] });
  });

  it('two mounts on one target', () => {
    const file = read('mounts:\n  - {source: ., target: /a}\n  - {source: ., target: /a}\n', undefined, fakeDisk('dags/'));
    assert.deepEqual(where(file), ['3:25 error conflict']);
  });

  it('local needs exactly one of python and requirements', () => {
    const disk = fakeDisk('dags/req.txt', 'dags/venv/bin/python');
    assert.deepEqual(where(read('local: {}\n', undefined, disk)), ['1:1 error missing-key']);
    assert.deepEqual(where(read('local: {python: python3, requirements: req.txt}\n', undefined, disk)), ['1:1 error conflict']);
    assert.deepEqual(read('local: {python: python3.11}\n', undefined, disk).problems, [], 'a command is looked up later, not checked here');
    assert.deepEqual(read('local: {python: ./venv/bin/python}\n', undefined, disk).problems, []);
    assert.deepEqual(where(read('local: {python: ./nope/python}\n', undefined, disk)), ['1:17 error missing-path']);
  });

  it('a value left out can leave its parent incomplete: the parent goes too, with one message', () => {
    const file = read('build:\n  context: # .\n  dockerfile: Dockerfile\nimage: x\n', undefined, fakeDisk('dags/Dockerfile'));
    assert.deepEqual(file.problems.map((p) => `${p.start.line}:${p.start.column} ${p.message}`), ['2:12 `build.context` must be a string, not empty']);
    assert.deepEqual(file.values, { image: 'x' });
  });

  it('a list item left out leaves the items after it as they are', () => {
    const disk = fakeDisk('dags/b/', 'dags/c/');
    const mounts = (first: string) => read(`mounts:\n  - ${first}\n  - {source: b, target: /b}\n  - {source: c, target: /c}\n`, undefined, disk);
    for (const first of ['{target: /a}', '!!binary aGVsbG8=']) {
      const file = mounts(first);
      assert.deepEqual(where(file).length, 1, first);
      assert.deepEqual(file.values, { mounts: [{ source: 'b', target: '/b' }, { source: 'c', target: '/c' }] }, first);
    }
  });

  it('binary data from a !!binary tag', () => {
    assert.deepEqual(where(read('image: !!binary aGVsbG8=\n')), ['1:17 error wrong-type']);
    assert.deepEqual(where(read('!!binary aGVsbG8=\n')), ['1:10 error not-a-mapping']);
  });

  it('an alias bomb is refused, not expanded', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 0; i < 10; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`);
    const file = read(lines.join('\n'));
    assert.equal(file.ignored, true);
    assert.equal(file.problems[0].code, 'yaml-syntax');
  });
});

describe('runtime files that cannot be runtime files', () => {
  it('a folder, a device, an oversized file: one located error each, read from disk or not', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { readRuntimeText, unreadableRuntimeFile, MAX_RUNTIME_FILE_BYTES } = await import('../../src/core/runtime/read');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airflow-runtime-read-'));
    const folder = path.join(dir, 'airflow-runtime.yaml');
    mkdirSync(folder);
    const big = path.join(dir, 'big.airflow-runtime.yaml');
    writeFileSync(big, 'x'.repeat(MAX_RUNTIME_FILE_BYTES + 1));
    const message = (file: string) => {
      try {
        readRuntimeText(file);
      } catch (error) {
        return unreadableRuntimeFile(file, error).problems.map((p) => `${p.start.line}:${p.start.column} ${p.code} ${p.message}`);
      }
      return ['read'];
    };
    assert.deepEqual(message(folder), ['1:1 unreadable-file this runtime file is a folder, not a file: rename or remove it (this name is read as a runtime file)']);
    assert.match(message('/dev/null')[0], /is not a regular file/);
    assert.match(message(big)[0], /this runtime file is 256 KB: runtime files are at most 256 KB/);
    assert.equal(readRuntimeText(path.join(dir, 'none.airflow-runtime.yaml')), undefined);
    assert.match(where(read('x'.repeat(MAX_RUNTIME_FILE_BYTES + 1)))[0], /^1:1 error unreadable-file$/);
  });

  it('deep nesting is said as such, not as a stack overflow', () => {
    const file = read(`env: ${'['.repeat(20_000)}${']'.repeat(20_000)}`);
    assert.match(file.problems[0].message, /^nested more than 64 levels deep/);
    assert.equal(file.ignored, true);
  });

  it('an envFile that is not text, or a build context that is the disk, is refused at its value', () => {
    const probe = { ...fakeDisk('dags/env.bin', 'dags/ctx/Dockerfile'), notText: (p: string) => (p.endsWith('env.bin') ? 'holds binary data (a NUL byte)' : undefined) };
    const envFile = read('envFile: env.bin\n', undefined, probe);
    assert.deepEqual(where(envFile), ['1:10 error bad-value']);
    assert.match(envFile.problems[0].message, /^envFile "env\.bin" holds binary data \(a NUL byte\): an env file is text/);
    assert.equal(envFile.values.envFile, undefined);
    const disk = read('build:\n  context: /\n', undefined, { kind: (p: string) => (p === '/' ? 'directory' : 'file') });
    assert.deepEqual(where(disk), ['2:12 error bad-value']);
    assert.match(disk.problems[0].message, /build context "\/" is the root of the disk/);
    assert.equal(disk.values.build, undefined);
  });
});
