/**
 * Issue 21's hostile runtime files against the real Docker engine: root by other spellings, and builds onto image
 * tags we did not make. Every image here is tagged with this run's own marker and removed at the end.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectDocker } from '../../src/core/engine/docker/connect';
import { builtBy, ensureImage, LABEL_BUILT_BY, uidInImage } from '../../src/core/engine/docker/images';
import type { EngineError } from '../../src/core/engine/errors';
import type { ValueSource } from '../../src/core/runtime/resolve';
import { cli, dockerProblem, image, needs, scratchWorkspace } from './support';

const MARKER = `airflow-runtime-hostile-${process.pid}-${Date.now()}`;
const docker = (...args: string[]) => spawnSync('docker', ['-H', 'unix:///var/run/docker.sock', ...args], { encoding: 'utf8' });
const imageId = (tag: string) => docker('image', 'inspect', '-f', '{{.Id}}', tag).stdout.trim();
const labelOf = (tag: string) => docker('image', 'inspect', '-f', `{{index .Config.Labels "${LABEL_BUILT_BY}"}}`, tag).stdout.trim();

/** `docker build` of a Dockerfile text, tagged; the tag is this run's. */
function dockerBuild(tag: string, dockerfile: string, files: Record<string, string> = {}): void {
  const context = mkdtempSync(path.join(os.tmpdir(), `${MARKER}-ctx-`));
  writeFileSync(path.join(context, 'Dockerfile'), dockerfile);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(context, name), text);
  const built = docker('build', '-q', '-t', tag, context);
  assert.equal(built.status, 0, built.stderr);
}

const tags: string[] = [];
after(() => {
  if (tags.length) docker('rmi', '-f', ...tags);
});

describe('root by any spelling is refused where the image runs as another user (item 7)', needs(dockerProblem()), () => {
  const userImage = `${MARKER}/user:1`;
  before(() => {
    tags.push(userImage);
    // `ops` is uid 0 under another name; `runner` (the image's user) and `worker` are not root
    dockerBuild(userImage, [
      `FROM ${image('2.11.2')}`,
      'RUN echo "ops:x:0:0:ops:/root:/bin/sh" >> /etc/passwd && echo "runner:x:50000:0::/tmp:/bin/sh" >> /etc/passwd && echo "worker:x:50001:0::/tmp:/bin/sh" >> /etc/passwd',
      'USER runner', '',
    ].join('\n'));
  });

  it('a name is looked up in the image\'s /etc/passwd, without starting it', async () => {
    const { docker: client } = await connectDocker('unix:///var/run/docker.sock');
    assert.equal(await uidInImage(client, userImage, 'ops'), 0);
    assert.equal(await uidInImage(client, userImage, 'worker:0'), 50001);
    assert.equal(await uidInImage(client, userImage, 'nobody-here'), undefined);
    assert.equal(await uidInImage(client, userImage, '00'), undefined, 'a number needs no look');
    assert.equal(docker('ps', '-a', '--filter', `ancestor=${userImage}`, '-q').stdout.trim(), '', 'the look leaves no container');
  });

  for (const user of ['"00"', '"+0"', '"00:00"', '"0:0"', 'ops']) {
    it(`\`user: ${user}\` is refused at its line, and nothing runs`, async () => {
      const ws = scratchWorkspace('hostile', {
        'dags/airflow-runtime.yaml': `image: ${userImage}\npull: never\nuser: ${user}\n`,
        'dags/whoami.py': 'import os\nfrom airflow import DAG\nprint("UID", os.getuid())\n',
      });
      const { code, stdout, stderr } = await cli(['parse', 'dags', '--engine', 'docker', '--cold'], { cwd: ws });
      assert.equal(code, 2, stdout + stderr);
      assert.match(stdout + stderr, new RegExp(`dags/airflow-runtime\\.yaml:3: \`user: ${user.replace(/"/g, '').replace('+', '\\+')}\` runs as root where the image runs as "runner"`));
      assert.doesNotMatch(stdout + stderr, /UID 0/);
    });
  }

  it('a name that is not uid 0 is used as it is', async () => {
    const ws = scratchWorkspace('hostile', {
      'dags/airflow-runtime.yaml': `image: ${userImage}\npull: never\nuser: worker\n`,
      'dags/whoami.py': 'import os\nfrom airflow import DAG\nprint("UID", os.getuid())\n',
    });
    const { stdout, stderr } = await cli(['parse', 'dags', '--engine', 'docker', '--cold', '--format', 'json'], { cwd: ws });
    assert.doesNotMatch(stdout + stderr, /runs as root/);
  });
});

describe('a build only replaces image tags this project built (item 4)', needs(dockerProblem()), () => {
  const planted = `${MARKER}/team:1`;
  const ws = (name: string) => {
    const root = scratchWorkspace(`hostile-${name}`, { 'dags/ctx/Dockerfile': 'FROM scratch\nCOPY planted.txt /planted.txt\n', 'dags/ctx/planted.txt': `${name}\n`, 'dags/etl.py': 'from airflow import DAG\n' });
    mkdirSync(path.join(root, '.git'), { recursive: true });
    return root;
  };
  const ownerIn = (root: string, hostAccess = { allowed: false }) => {
    const file = path.join(root, 'dags', 'airflow-runtime.yaml');
    const sources: Record<string, ValueSource> = { image: { kind: 'file', file, line: 1, column: 1 }, build: { kind: 'file', file, line: 2, column: 1 } };
    return { runtime: { workspaceRoot: root, sources, hostAccess } };
  };

  before(() => {
    tags.push(planted);
    dockerBuild(planted, 'FROM scratch\nCOPY team.txt /team.txt\n', { 'team.txt': 'the team\'s own image\n' });
  });

  it('an image tagged demo/team:1 that we did not build stays untouched, and the refusal says what to do', async () => {
    const { docker: client } = await connectDocker('unix:///var/run/docker.sock');
    const original = imageId(planted);
    const attacker = ws('attacker');
    await assert.rejects(ensureImage(client, { image: planted, build: { context: path.join(attacker, 'dags/ctx') } }, new Set(), ownerIn(attacker)),
      (error: EngineError) => error.code === 'bad-runtime'
        && error.message.startsWith(`${path.join(attacker, 'dags/airflow-runtime.yaml')}:1: \`build\` would replace the image ${planted}, which holds an image this project did not build`)
        && /give the build a tag of its own/.test(error.hint ?? '') && /--allow-host-access/.test(error.hint ?? ''));
    assert.equal(imageId(planted), original);
  });

  it('through the CLI too: exit 2, and the tag keeps its image', async () => {
    const original = imageId(planted);
    const attacker = ws('attacker-cli');
    writeFileSync(path.join(attacker, 'dags/airflow-runtime.yaml'), `image: ${planted}\nbuild:\n  context: ctx\n`);
    const { code, stdout, stderr } = await cli(['parse', 'dags', '--engine', 'docker'], { cwd: attacker });
    assert.equal(code, 2, stdout + stderr);
    assert.match(stdout + stderr, /`build` would replace the image .*team:1, which holds an image this project did not build/);
    assert.equal(imageId(planted), original);
  });

  it('our own tag is rebuilt freely and carries our label; another project\'s build is refused; a grant allows it', async () => {
    const { docker: client } = await connectDocker('unix:///var/run/docker.sock');
    const ours = `${MARKER}/ours:1`;
    tags.push(ours);
    const mine = ws('mine');
    const build = { image: ours, build: { context: path.join(mine, 'dags/ctx') } };
    assert.equal(await ensureImage(client, build, new Set(), ownerIn(mine)), ours);
    assert.equal(labelOf(ours), builtBy(ownerIn(mine)));
    writeFileSync(path.join(mine, 'dags/ctx/planted.txt'), 'mine, changed\n');
    assert.equal(await ensureImage(client, build, new Set(), ownerIn(mine)), ours, 'the same runtime file rebuilds its own tag');

    const other = ws('other');
    const mineNow = imageId(ours);
    await assert.rejects(ensureImage(client, { image: ours, build: { context: path.join(other, 'dags/ctx') } }, new Set(), ownerIn(other)),
      /which holds another project's \(or another runtime file's\) build/);
    assert.equal(imageId(ours), mineNow);

    const progress: string[] = [];
    await ensureImage(client, { image: ours, build: { context: path.join(other, 'dags/ctx') } }, new Set(),
      { ...ownerIn(other, { allowed: true, by: '--allow-host-access' } as never), onProgress: (event) => progress.push(event.message) });
    assert.notEqual(imageId(ours), mineNow);
    assert.ok(progress.some((line) => /building over .*: allowed by --allow-host-access/.test(line)), progress.join('\n'));
  });
});
