/**
 * A runtime without a Dockerfile: `image` (the 3.x test image) plus `requirements`, built on first use through this
 * machine's TLS proxy with the host's pip settings alone (and failing at the line without them), reused by content, rebuilt after an edit, and a requirement
 * pip cannot install said at its line of the requirements file. One tiny pure-Python package (inflection, 10 KB).
 * Each run's requirement line carries a marker of its own (an environment marker that is always true), so that its
 * first build is a build; the images it made are removed by their exact tags at the end.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { connectDocker } from '../../src/core/engine/docker/connect';
import { ensureImage } from '../../src/core/engine/docker/images';
import { hostPipSettings } from '../../src/core/engine/docker/hostPip';
import { leftoverBuildSteps } from '../../src/core/engine/docker/builtImages';
import { BUILT_REPOSITORY, LABEL_INPUTS } from '../../src/core/engine/docker/requirementsImage';
import type { EngineError } from '../../src/core/engine/errors';
import { MANIFEST_FILE } from '../../src/core/export/manifest';
import { readRuntimeText } from '../../src/core/runtime/read';
import { resolveRuntime } from '../../src/core/runtime/resolve';
import { cli, type CliResult, dockerProblem, image, needs, sandboxProblem, scratchWorkspace } from './support';

const VERSION = '3.3.2';
const MARKER = `airflow-runtime-test-${process.pid}-${Date.now()}`;
const requirement = (marker: string) => `inflection==0.5.1 ; platform_release != "${marker}"`;
const DAG = [
  'import inflection',
  'from airflow.sdk import DAG',
  'from airflow.providers.standard.operators.python import PythonOperator',
  '',
  'with DAG("needs_inflection", schedule=None):',
  '    PythonOperator(task_id="say", python_callable=lambda: print("CAMEL", inflection.camelize("built_by_content")))',
  '',
].join('\n');

const docker = (...args: string[]) => spawnSync('docker', ['-H', 'unix:///var/run/docker.sock', ...args], { encoding: 'utf8' });
const imageId = (tag: string) => docker('image', 'inspect', '--format', '{{.Id}}', tag).stdout.trim();
/** Debian's docker-registry (scripts/env/setup.sh installs it). */
const registryNeeds = () => needs(spawnSync('docker-registry', ['--version']).error ? 'docker-registry is not installed (run scripts/env/setup.sh)' : undefined);

/** A registry of this test's own on a free loopback port, its storage in a temp folder; ready when it says it listens. */
async function startRegistry(): Promise<{ address: string; stop: () => Promise<void> }> {
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = server.address() as AddressInfo;
      server.close(() => resolve(free));
    });
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airflow-runtime-registry-'));
  writeFileSync(path.join(dir, 'config.yml'), `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const child = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const ended = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let said = '';
    const listen = (chunk: Buffer) => {
      said += chunk.toString();
      if (/listening on 127\.0\.0\.1:\d+/.test(said)) resolve();
    };
    child.stdout.on('data', listen);
    child.stderr.on('data', listen);
    child.on('close', (code) => reject(new Error(`docker-registry ended (${code}): ${said}`)));
  });
  return {
    address: `127.0.0.1:${port}`,
    async stop() {
      child.kill();
      await ended;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The CAs of this machine's TLS proxy: in the CA bundle the host's pip uses, not in the base image's own. None: no
 * proxy here to build behind.
 */
function proxyCertificates(): string[] {
  if (dockerProblem()) return [];
  const certificates = (text: string) => text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const base = docker('run', '--rm', '--network', 'none', '--entrypoint', 'cat', image(VERSION), '/etc/ssl/certs/ca-certificates.crt').stdout;
  const trusted = new Set(certificates(base));
  return certificates(hostPipSettings().caBundle ?? '').filter((certificate) => !trusted.has(certificate));
}
const PROXY_CAS = proxyCertificates();
const proxyNeeds = () => needs(PROXY_CAS.length ? undefined : 'no TLS proxy here: the host\'s pip trusts no CA that the base image lacks');

/** The images built from this requirements file (by the label that records their inputs). */
function builtFrom(requirementsFile: string): string[] {
  const listed = docker('image', 'ls', '--filter', `label=${LABEL_INPUTS}`, '--format', '{{.Repository}}:{{.Tag}}').stdout.split('\n').filter((t) => t.startsWith(`${BUILT_REPOSITORY}:`));
  return listed.filter((tag) => JSON.parse(docker('image', 'inspect', '--format', `{{index .Config.Labels "${LABEL_INPUTS}"}}`, tag).stdout || '{}').requirementsFile === requirementsFile);
}

const builtTags = () => new Set(docker('image', 'ls', BUILT_REPOSITORY, '--format', '{{.Repository}}:{{.Tag}}').stdout.split('\n').filter(Boolean));

describe('runtimes without Dockerfiles: image + requirements', { ...needs(dockerProblem(), sandboxProblem()), timeout: 900_000 }, () => {
  const ws = scratchWorkspace('requirements', {
    'airflow-runtime.yaml': `image: ${image(VERSION)}\npull: never\nrequirements: requirements.txt\n`,
    'requirements.txt': `# what the DAGs need\n${requirement(MARKER)}\n`,
    'dags/needs_inflection.py': DAG,
  });
  const dagFile = path.join(ws, 'dags/needs_inflection.py');
  const before = builtTags();
  const made = new Set<string>();
  const venvs = new Set<string>();
  const runtime = () => resolveRuntime(dagFile, { workspaceRoot: ws, readText: readRuntimeText });
  after(() => {
    for (const tag of builtTags()) if (!before.has(tag) && made.has(tag)) docker('rmi', '-f', tag);
    // this run's venv only (its key holds this run's marker)
    for (const venv of venvs) rmSync(venv, { recursive: true, force: true });
    rmSync(ws, { recursive: true, force: true });
  });

  let first = '';
  it('two CLIs started at once build the image once, and both parse the DAG that imports the package', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const pids: number[] = [];
    const run = () => cli(['parse', 'dags', '--engine', 'docker'], { cwd: ws, onSpawn: (pid) => pids.push(pid) });
    const results: CliResult[] = await Promise.all([run(), run()]);
    for (const result of results) {
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stderr, /needs_inflection\.py: ok: needs_inflection \(1 task\)/);
    }
    const added = [...builtTags()].filter((tag) => !before.has(tag));
    assert.equal(added.length, 1, `one new image: ${added.join(', ')}`);
    first = added[0];
    made.add(first);
    // the build steps each CLI committed, from the engine's own record
    const commits = pids.map((pid) => docker('events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1),
      '--filter', 'type=container', '--filter', 'event=commit', '--filter', `label=airflow-runtime.build-step=${os.hostname()}:${pid}`, '--format', '{{.ID}}')
      .stdout.split('\n').filter(Boolean).length);
    assert.deepEqual(commits.sort(), [0, 1], `commits by each CLI: ${commits.join(', ')}`);
    const said = results.map((r) => r.stderr).join('\n');
    assert.match(said, /build: building the runtime \(0 of 1 requirements\)/);
    // the proxy's CA and pip.conf went in with the build and did not stay
    const leftovers = docker('run', '--rm', '--network', 'none', '--entrypoint', 'sh', first, '-c', 'ls /airflow-runtime-build 2>&1; python -c "import inflection; print(inflection.__file__)"');
    assert.match(leftovers.stdout, /No such file or directory/);
    assert.match(leftovers.stdout, /site-packages\/inflection/);
    const label = JSON.parse(docker('image', 'inspect', '--format', '{{index .Config.Labels "airflow-runtime.built-from"}}', first).stdout);
    assert.equal(label.base, image(VERSION));
    assert.equal(label.requirementsFile, path.join(ws, 'requirements.txt'));
  });

  it('builds behind this machine\'s TLS proxy with the host\'s pip settings alone and keeps no CA; without them it fails at the line', proxyNeeds(), async () => {
    // nothing in the project about certificates: the runtime file and the requirement a DAG author writes
    const project = scratchWorkspace('requirements-tls', {
      'airflow-runtime.yaml': `image: ${image(VERSION)}\npull: never\nrequirements: requirements.txt\n`,
      'requirements.txt': `# what the DAG needs\n${requirement(`${MARKER}-tls`)}\n`,
      'dags/needs_inflection.py': DAG,
    });
    const requirements = path.join(project, 'requirements.txt');
    try {
      const built = await cli(['parse', 'dags', '--engine', 'docker'], { cwd: project });
      assert.equal(built.code, 0, built.stdout + built.stderr);
      assert.match(built.stderr, /needs_inflection\.py: ok: needs_inflection \(1 task\)/);
      const [tag, ...more] = builtFrom(requirements);
      assert.ok(tag, 'the built image, by its label');
      assert.deepEqual(more, []);
      made.add(tag);
      // the CA went in with the build and stayed out of the image: not in a file, not in the label, not in the env
      const inspect = (name: string) => JSON.parse(docker('image', 'inspect', name).stdout)[0] as { Config: { Env: string[]; Labels: Record<string, string> } };
      const label = inspect(tag).Config.Labels[LABEL_INPUTS];
      const caLines = PROXY_CAS.map((certificate) => certificate.split('\n')[2]);
      for (const line of caLines) assert.ok(!label.includes(line), 'a CA in the label');
      assert.doesNotMatch(label, /CERTIFICATE|ca-certificates|"cert"/);
      assert.deepEqual(inspect(tag).Config.Env, inspect(image(VERSION)).Config.Env);
      const search = docker('run', '--rm', '--network', 'none', '--entrypoint', 'sh', tag, '-c',
        `ls /airflow-runtime-build 2>&1; grep -rlF ${caLines.map((line) => `-e '${line}'`).join(' ')} --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev / ; echo "grep: $?"`);
      assert.match(search.stdout, /No such file or directory/);
      assert.match(search.stdout, /^grep: 1$/m, `files that hold the proxy's CA: ${search.stdout}`);
      // the same build with the host's pip settings cleared (no CA bundle named, no pip config read) fails at the line
      writeFileSync(requirements, `# what the DAG needs\n${requirement(`${MARKER}-tls-without-ca`)}\n`);
      const cleared = { PIP_CERT: '', REQUESTS_CA_BUNDLE: '', SSL_CERT_FILE: '', PIP_CONFIG_FILE: '/dev/null' };
      const failed = await cli(['parse', 'dags', '--engine', 'docker'], { cwd: project, env: cleared });
      assert.equal(failed.code, 2, failed.stdout + failed.stderr);
      assert.match(failed.stdout, /^requirements\.txt:2:1: error: pip: could not verify the TLS certificate of \S+ \(.+\): the build trusts what the host's pip trusts, and the host's pip names no CA bundle/m);
      assert.deepEqual(builtFrom(requirements), [tag], 'no image of the failed build');
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });

  it('the task runs in the built image, and the next parse builds nothing', async () => {
    assert.ok(first, 'needs the first test');
    const id = imageId(first);
    const ran = await cli(['run', dagFile, 'needs_inflection', 'say', '--engine', 'docker'], { cwd: ws });
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    assert.match(ran.stdout + ran.stderr, /CAMEL BuiltByContent/);
    const again = await cli(['parse', 'dags', '--engine', 'docker'], { cwd: ws });
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /^build:/m);
    assert.equal(imageId(first), id);
  });

  it('an edit of the requirements file makes a new image (the old one is cleanup\'s); a comment alone does not', async () => {
    assert.ok(first, 'needs the first test');
    const { docker: client } = await connectDocker('unix:///var/run/docker.sock');
    writeFileSync(path.join(ws, 'requirements.txt'), `# a comment changes nothing\n${requirement(MARKER)}  # still\n`);
    const stages: string[] = [];
    assert.equal(await ensureImage(client, runtime().values, new Set(), { runtime: runtime(), onProgress: (p) => stages.push(p.message) }), first);
    assert.equal(stages.length, 0, stages.join('\n'));
    writeFileSync(path.join(ws, 'requirements.txt'), `${requirement(`${MARKER}-edited`)}\n`);
    const second = await ensureImage(client, runtime().values, new Set(), { runtime: runtime(), onProgress: (p) => stages.push(p.message) });
    made.add(second);
    assert.notEqual(second, first);
    assert.notEqual(imageId(second), imageId(first));
    assert.ok(stages.includes('building the runtime (1 of 1 requirements)'), stages.join('\n'));
    // the first build is the old one now: `cleanup --images` would remove it, and keep the new one
    const cleanup = await cli(['cleanup', '--images', '--dry-run'], { cwd: ws });
    assert.equal(cleanup.code, 0, cleanup.stderr);
    assert.match(cleanup.stdout, new RegExp(`^would remove image ${first} \\(.*replaced by a newer build\\)$`, 'm'));
    assert.doesNotMatch(cleanup.stdout, new RegExp(second));
    // production runs what the editor parsed in: export names the built image, not the base
    const exported = await cli(['export', '.', '--out', path.join(ws, 'deploy')], { cwd: ws });
    assert.equal(exported.code, 0, exported.stdout + exported.stderr);
    const manifest = JSON.parse(readFileSync(path.join(ws, 'deploy', MANIFEST_FILE), 'utf8')) as { runtimes: { image: string }[] };
    assert.deepEqual(manifest.runtimes.map((r) => r.image), [second]);
  });

  it('export --push pushes the built image to a real registry on 127.0.0.1, names it with its digest, and it pulls back by digest', registryNeeds(), async () => {
    assert.ok(first, 'needs the first test');
    const registry = await startRegistry();
    try {
      const out = path.join(ws, 'deploy-pushed');
      const exported = await cli(['export', '.', '--out', out, '--push', registry.address], { cwd: ws });
      assert.equal(exported.code, 0, exported.stdout + exported.stderr);
      const manifest = JSON.parse(readFileSync(path.join(out, MANIFEST_FILE), 'utf8')) as { runtimes: { image: string; digest: string | null }[] };
      const [runtime] = manifest.runtimes;
      assert.match(runtime.image, new RegExp(`^${registry.address}/${BUILT_REPOSITORY}:[0-9a-f]{24}$`));
      assert.match(runtime.digest ?? '', /^sha256:[0-9a-f]{64}$/);
      const built = imageId(runtime.image);
      docker('rmi', runtime.image); // only this registry's name: the layers stay under the built tag
      const byDigest = `${runtime.image.slice(0, runtime.image.lastIndexOf(':'))}@${runtime.digest}`;
      const pulled = docker('pull', byDigest);
      assert.equal(pulled.status, 0, pulled.stderr);
      assert.equal(imageId(byDigest), built);
      docker('rmi', byDigest);
    } finally {
      await registry.stop();
    }
  });

  it('a requirement that does not exist is an error at its line, exit 2', async () => {
    writeFileSync(path.join(ws, 'requirements.txt'), `${requirement(MARKER)}\n\nno-such-package-${MARKER}==1.0\n`);
    const result = await cli(['parse', 'dags', '--engine', 'docker'], { cwd: ws });
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stdout, new RegExp(`^requirements\\.txt:3:1: error: pip: .*no-such-package-${MARKER}`, 'm'));
    assert.doesNotMatch(result.stdout + result.stderr, /at .*\.js:\d+/); // no stack trace of ours
  });

  it('--verbose prints pip\'s whole output; the error at the line stays one line of pip\'s reason', async () => {
    writeFileSync(path.join(ws, 'requirements.txt'), `${requirement(MARKER)}\nno-such-package-${MARKER}-verbose==1.0\n`);
    const result = await cli(['parse', 'dags', '--engine', 'docker', '--verbose'], { cwd: ws });
    assert.equal(result.code, 2, result.stdout + result.stderr);
    // what pip said, line by line, after "| ": the host's settings it was given, the requirements it collected
    assert.match(result.stderr, /^\| pip: the host's settings: index .*, CA bundle \S+/m);
    assert.match(result.stderr, /^\| Collecting inflection==0\.5\.1/m);
    assert.match(result.stderr, new RegExp(`^\\| ERROR: No matching distribution found for no-such-package-${MARKER}-verbose==1\\.0`, 'm'));
    const problems = result.stdout.split('\n').filter((line) => line.startsWith('requirements.txt:'));
    assert.deepEqual(problems.map((line) => line.split(': error: ')[0]), ['requirements.txt:2:1'], result.stdout);
    assert.doesNotMatch(result.stdout, /^\| /m);
  });

  it('a CLI killed with -9 mid-build leaves its build container: cleanup finds it, and the next parse builds', async () => {
    writeFileSync(path.join(ws, 'requirements.txt'), `${requirement(`${MARKER}-killed`)}\n`);
    let pid = 0;
    let said = '';
    const killed = cli(['parse', 'dags', '--engine', 'docker'], { cwd: ws, onSpawn: (p) => { pid = p; }, onStderr: (soFar) => { said = soFar; } });
    const stepOf = () => docker('ps', '-a', '--filter', `label=airflow-runtime.build-step=${os.hostname()}:${pid}`, '--format', '{{.ID}} {{.Names}}').stdout.trim();
    for (const end = Date.now() + 120_000; !(said.includes('building the runtime') && stepOf()) && Date.now() < end;) await new Promise((r) => setTimeout(r, 100));
    assert.ok(stepOf(), `no build container while the CLI built: ${said}`);
    process.kill(pid, 'SIGKILL');
    await killed;
    const [id, name] = stepOf().split(' ');
    assert.match(name ?? '', new RegExp(`^airflow-runtime-build-\\S+-${pid}-[0-9a-f]{6}$`));
    // said by cleanup with whose it is; removed the way cleanup removes it (the machine is shared: a real cleanup
    // would take other tests' leftovers too)
    const dry = await cli(['cleanup', '--dry-run'], { cwd: ws });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`^would remove build container ${name} \\(\\w+, of process ${os.hostname()}:${pid}, gone\\)$`, 'm'));
    const { docker: client } = await connectDocker('unix:///var/run/docker.sock');
    const leftover = (await leftoverBuildSteps(client, false)).find((step) => step.id.startsWith(id));
    assert.ok(leftover, 'the build container among the leftovers');
    await client.getContainer(leftover.id).remove({ force: true });
    // the dead CLI's lock does not hold the next build back
    const next = await cli(['parse', 'dags', '--engine', 'docker'], { cwd: ws });
    assert.equal(next.code, 0, next.stdout + next.stderr);
    assert.match(next.stderr, /build: building the runtime \(0 of 1 requirements\)/);
    for (const tag of builtFrom(path.join(ws, 'requirements.txt'))) made.add(tag);
  });

  it('a new built image uses its base image\'s prepared runtime cache: it does not migrate again', async () => {
    const project = scratchWorkspace('requirements-cache', { 'airflow-runtime.yaml': `image: ${image(VERSION)}\npull: never\n`, 'dags/needs_inflection.py': DAG.replace('import inflection\n', '') });
    try {
      // the base image's cache, prepared once (by this parse, or recorded by an earlier one)
      const base = await cli(['parse', 'dags', '--engine', 'docker', '--cold'], { cwd: project });
      assert.equal(base.code, 0, base.stdout + base.stderr);
      writeFileSync(path.join(project, 'airflow-runtime.yaml'), `image: ${image(VERSION)}\npull: never\nrequirements: ['${requirement(`${MARKER}-cache`)}']\n`);
      writeFileSync(path.join(project, 'dags/needs_inflection.py'), DAG);
      const built = await cli(['parse', 'dags', '--engine', 'docker', '--cold'], { cwd: project });
      assert.equal(built.code, 0, built.stdout + built.stderr);
      assert.match(built.stderr, /^build: building the runtime/m);
      assert.match(built.stderr, /needs_inflection\.py: ok: needs_inflection \(1 task\)/);
      assert.doesNotMatch(built.stderr, /^migrate:/m);
      const { docker: client } = await connectDocker('unix:///var/run/docker.sock');
      made.add(await ensureImage(client, resolveRuntime(path.join(project, 'dags/needs_inflection.py'), { workspaceRoot: project, readText: readRuntimeText }).values, new Set(), {}));
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });

  it('Debian packages are installed by apt-get in the build, and a task uses them', async () => {
    // a requirement of this run's own beside the package, so that this run's image is a new build
    const project = scratchWorkspace('requirements-apt', {
      'airflow-runtime.yaml': `image: ${image(VERSION)}\npull: never\npackages: [jq]\nrequirements:\n  - '${requirement(`${MARKER}-apt`)}'\n`,
      'dags/needs_jq.py': [
        'from airflow.sdk import DAG',
        'from airflow.providers.standard.operators.bash import BashOperator',
        '',
        'with DAG("needs_jq", schedule=None):',
        '    BashOperator(task_id="version", bash_command="jq --version")',
        '',
      ].join('\n'),
    });
    try {
      const dag = path.join(project, 'dags/needs_jq.py');
      const apt = resolveRuntime(dag, { workspaceRoot: project, readText: readRuntimeText });
      const { docker: client } = await connectDocker('unix:///var/run/docker.sock');
      const stages: string[] = [];
      const tag = await ensureImage(client, apt.values, new Set(), { runtime: apt, onProgress: (p) => stages.push(p.message) });
      made.add(tag);
      assert.ok(stages.includes('building the runtime: 1 Debian package (apt-get, as root)'), stages.join('\n'));
      // apt's lists are not kept; the image's own user is kept
      const inside = docker('run', '--rm', '--network', 'none', '--entrypoint', 'sh', tag, '-c', 'ls /var/lib/apt/lists | wc -l; id -u');
      assert.deepEqual(inside.stdout.trim().split('\n'), ['0', docker('run', '--rm', '--network', 'none', '--entrypoint', 'id', image(VERSION), '-u').stdout.trim()]);
      const ran = await cli(['run', dag, 'needs_jq', 'version', '--engine', 'docker'], { cwd: project });
      assert.equal(ran.code, 0, ran.stdout + ran.stderr);
      assert.match(ran.stdout + ran.stderr, /jq-1\.\d+/);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });

  it('-r and -c includes are followed: built, an edit of the included file makes a new image, its failure at the -r', async () => {
    const included = path.join(ws, 'team/included.txt');
    mkdirSync(path.dirname(included), { recursive: true });
    writeFileSync(included, `${requirement(`${MARKER}-included`)}\n`);
    writeFileSync(path.join(ws, 'team/pins.txt'), 'inflection==0.5.1\n');
    writeFileSync(path.join(ws, 'requirements.txt'), '# the team\'s lists\n-r team/included.txt\n-c team/pins.txt\n');
    const parsed = await cli(['parse', 'dags', '--engine', 'docker'], { cwd: ws });
    assert.equal(parsed.code, 0, parsed.stdout + parsed.stderr);
    assert.match(parsed.stderr, /needs_inflection\.py: ok: needs_inflection \(1 task\)/);
    const { docker: client } = await connectDocker('unix:///var/run/docker.sock');
    const built = await ensureImage(client, runtime().values, new Set(), { runtime: runtime() });
    made.add(built);
    writeFileSync(included, `${requirement(`${MARKER}-included-edited`)}\n`);
    const edited = await ensureImage(client, runtime().values, new Set(), { runtime: runtime() });
    made.add(edited);
    assert.notEqual(edited, built);
    writeFileSync(included, `no-such-package-${MARKER}-included==1.0\n`);
    await assert.rejects(ensureImage(client, runtime().values, new Set(), { runtime: runtime() }), (error: EngineError) => {
      assert.deepEqual(error.problems?.map((p) => [p.file, p.start.line]), [[path.join(ws, 'requirements.txt'), 2]]);
      assert.match(error.message, new RegExp(`no-such-package-${MARKER}-included`));
      return true;
    });
  });

  it('-e ./lib inside the workspace is copied into the build and installed; an edit of it makes a new image', async () => {
    const lib = path.join(ws, 'lib');
    mkdirSync(path.join(lib, 'team_greeting'), { recursive: true });
    writeFileSync(path.join(lib, 'pyproject.toml'), '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "team-greeting"\nversion = "0.1.0"\n');
    writeFileSync(path.join(lib, 'team_greeting', '__init__.py'), `WORD = "${MARKER}"\n`);
    writeFileSync(path.join(ws, 'requirements.txt'), '# our own package\n-e ./lib\n');
    const { docker: client } = await connectDocker('unix:///var/run/docker.sock');
    const built = await ensureImage(client, runtime().values, new Set(), { runtime: runtime() });
    made.add(built);
    // installed into the image (not editable: the build's copy is gone), and nothing of the build is left
    const inside = docker('run', '--rm', '--network', 'none', '--entrypoint', 'sh', built, '-c', 'python -c "import team_greeting as t; print(t.WORD, t.__file__)"; ls /airflow-runtime-build 2>&1');
    assert.match(inside.stdout, new RegExp(`^${MARKER} \\S+/site-packages/team_greeting/__init__\\.py$`, 'm'), inside.stdout + inside.stderr);
    assert.match(inside.stdout, /No such file or directory/);
    writeFileSync(path.join(lib, 'team_greeting', '__init__.py'), `WORD = "${MARKER}-edited"\n`);
    const edited = await ensureImage(client, runtime().values, new Set(), { runtime: runtime() });
    made.add(edited);
    assert.notEqual(edited, built);
  });

  it('the local emulator builds its venv from the same requirements, and says once that packages are Docker\'s', async () => {
    writeFileSync(path.join(ws, 'requirements.txt'), `${requirement(MARKER)}\n`);
    writeFileSync(path.join(ws, 'airflow-runtime.yaml'), `image: ${image(VERSION)}\npull: never\nrequirements: requirements.txt\npackages: [libpq5]\n`);
    try {
      const result = await cli(['parse', 'dags', '--engine', 'local'], { cwd: ws });
      const venv = /venv (\S+\/venvs\/airflow-[^\s,]+)/.exec(result.stderr)?.[1];
      if (venv) venvs.add(venv);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stderr, /needs_inflection\.py: ok: needs_inflection \(1 task\)/);
      assert.match(result.stderr, /with requirements\.txt/);
      assert.equal(result.stderr.match(/Debian packages \(libpq5\) cannot be installed by the local emulator/g)?.length, 1, result.stderr);
    } finally {
      writeFileSync(path.join(ws, 'airflow-runtime.yaml'), `image: ${image(VERSION)}\npull: never\nrequirements: requirements.txt\n`);
    }
  });

  it('on the local emulator, a requirement uv cannot install is an error at its line, exit 2', async () => {
    writeFileSync(path.join(ws, 'requirements.txt'), `${requirement(MARKER)}\n\nno-such-package-${MARKER}-local==1.0\n`);
    const result = await cli(['parse', 'dags', '--engine', 'local'], { cwd: ws });
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stdout, new RegExp(`^requirements\\.txt:3:1: error: uv: Because no-such-package-${MARKER}-local was not found in the package registry`, 'm'));
  });

  it('a requirement that would change Airflow\'s version is refused at its line', async () => {
    writeFileSync(path.join(ws, 'requirements.txt'), `${requirement(MARKER)}\napache-airflow==2.11.2\n`);
    const { docker: client } = await connectDocker('unix:///var/run/docker.sock');
    await assert.rejects(ensureImage(client, runtime().values, new Set(), { runtime: runtime() }), (error: EngineError) => {
      assert.equal(error.code, 'image-build-failed');
      assert.deepEqual(error.problems?.map((p) => [p.file, p.start.line]), [[path.join(ws, 'requirements.txt'), 2]]);
      assert.match(error.message, /"apache-airflow==2\.11\.2" would change Airflow's version, which the runtime holds at the base image's \(3\.3\.2\)/);
      return true;
    });
  });
});
