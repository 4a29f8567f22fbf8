/**
 * Isolation as an attacker would try it: hostile runtime files and DAG files against the real engines, through
 * the built CLI. What a test leaves on the host is a marker file of its own, looked for afterwards.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { cli, dockerProblem, image, needs, sandboxProblem, scratchWorkspace, venvPython, venvProblem } from './support';

const VERSION = '2.11.2';
const real = needs(dockerProblem(), venvProblem());
const base = `image: ${image(VERSION)}\npull: never\nlocal:\n  python: ${venvPython(VERSION)}\n`;

/** A DAG file that writes `marker` through the mount at /host_root, at parse time. */
const writer = (marker: string) => [
  'import pathlib', 'from airflow import DAG',
  'try:', `    pathlib.Path("/host_root${marker}").write_text("escaped")`, 'except OSError:', '    pass', '',
].join('\n');

describe('a runtime file cannot open the host', { ...real, timeout: 300_000 }, () => {
  it('a writable mount of / with allowOutsideWorkspace is refused at its line, and nothing is written', async () => {
    const marker = path.join(os.tmpdir(), `airflow-runtime-escape-${process.pid}-${Date.now()}`);
    const ws = scratchWorkspace('isolation', {
      'dags/airflow-runtime.yaml': `${base}mounts:\n  - source: /\n    target: /host_root\n    readOnly: false\n    allowOutsideWorkspace: true\n`,
      'dags/escape.py': writer(marker),
    });
    try {
      for (const engine of ['docker', 'local']) {
        const { code, stdout, stderr } = await cli(['parse', 'dags', '--engine', engine], { cwd: ws });
        assert.equal(code, 2, stderr);
        assert.match(stdout, /^dags\/airflow-runtime\.yaml:6:13: error: mount source "\/" is outside the workspace \(\/, writable\) \(allowOutsideWorkspace alone no longer allows it\): a runtime file cannot open the host by itself; if you trust it, allow host access: --allow-host-access/m);
        assert.match(stderr, /^dags\/escape\.py: not parsed: fix the errors of its runtime files/m);
        assert.equal(existsSync(marker), false, 'the DAG wrote on the host');
      }
      // The person's grant opens it, and says so.
      const granted = await cli(['parse', 'dags', '--engine', 'docker', '--allow-host-access'], { cwd: ws });
      assert.equal(granted.code, 0, granted.stderr);
      assert.match(granted.stdout, /^dags\/airflow-runtime\.yaml:6:13: warning: mount source "\/" is outside the workspace .*: allowed by --allow-host-access$/m);
      assert.equal(existsSync(marker), true, 'with the grant the mount is there');
      rmSync(marker, { force: true });
      const byEnv = await cli(['parse', 'dags', '--engine', 'docker'], { cwd: ws, env: { AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS: '1' } });
      assert.equal(byEnv.code, 0, byEnv.stderr);
      assert.match(byEnv.stdout, /allowed by AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS=1$/m);
    } finally {
      rmSync(marker, { force: true });
    }
  });

  it('the Docker socket through a symlink inside the workspace is refused', async () => {
    const ws = scratchWorkspace('isolation', {
      'dags/airflow-runtime.yaml': `${base}mounts:\n  - source: sock\n    target: /var/run/docker.sock\n`,
      'dags/quick.py': 'from airflow import DAG\n',
    });
    symlinkSync('/var/run/docker.sock', path.join(ws, 'dags', 'sock'));
    const { code, stdout } = await cli(['parse', 'dags', '--engine', 'docker'], { cwd: ws });
    assert.equal(code, 2);
    assert.match(stdout, /^dags\/airflow-runtime\.yaml:6:13: error: mount source "sock" is a socket \(a host service: the Docker socket is full control of the host\)/m);
  });

  it('network: host, an envFile and a build context outside the workspace are refused', async () => {
    const outside = scratchWorkspace('isolation-outside', { 'secrets.env': 'TOKEN=abc\n', 'ctx/Dockerfile': 'FROM scratch\n' });
    const ws = scratchWorkspace('isolation', {
      'dags/host.airflow-runtime.yaml': `${base}network: host\n`, 'dags/host.py': 'from airflow import DAG\n',
      'dags/env.airflow-runtime.yaml': `${base}envFile: ${outside}/secrets.env\n`, 'dags/env.py': 'from airflow import DAG\n',
      'dags/ctx.airflow-runtime.yaml': `build:\n  context: ${outside}/ctx\n`, 'dags/ctx.py': 'from airflow import DAG\n',
    });
    const { code, stdout } = await cli(['parse', 'dags', '--engine', 'docker'], { cwd: ws });
    assert.equal(code, 2);
    assert.match(stdout, /^dags\/host\.airflow-runtime\.yaml:5:10: error: `network: host` puts the runtime on the host's network/m);
    assert.match(stdout, /^dags\/env\.airflow-runtime\.yaml:5:10: error: envFile ".*secrets\.env" is outside the workspace .*: its values would reach the DAG code/m);
    assert.match(stdout, /^dags\/ctx\.airflow-runtime\.yaml:2:12: error: build context ".*ctx" is outside the workspace .*: all of it would be sent to Docker/m);
    assert.doesNotMatch(stdout, /abc/);
  });

  it('a parse has no network, whatever the runtime file says, unless host access is allowed', async () => {
    const ws = scratchWorkspace('isolation', {
      'dags/airflow-runtime.yaml': `${base}network: bridge\n`,
      'dags/net.py': 'import socket\nfrom airflow import DAG\nprint("interfaces:", sorted(n for _, n in socket.if_nameindex()))\n',
    });
    const { code, stdout, stderr } = await cli(['parse', 'dags', '--engine', 'docker', '--format', 'json'], { cwd: ws });
    assert.equal(code, 0, stderr);
    assert.match(JSON.parse(stdout)[0].output.tail, /interfaces: \['lo'\]/);
  });
});

describe('the runtime cache cannot be poisoned', { ...real, timeout: 300_000 }, () => {
  it('a DAG in one workspace cannot change what a parse in another workspace sees', async () => {
    const marker = `poisoned-${process.pid}-${Date.now()}`;
    const attacker = scratchWorkspace('isolation', {
      'dags/airflow-runtime.yaml': base,
      'dags/poison.py': [
        'import glob, pathlib', 'from airflow import DAG', 'seen = []',
        'for p in glob.glob("/opt/airflow-runtime/cache/**/*.db", recursive=True):',
        '    try:', '        open(p, "ab").write(b"poison"); seen.append("wrote-template")', '    except OSError as e:', '        seen.append(f"refused-{e.errno}")',
        'try:', `    pathlib.Path("/opt/airflow-runtime/cache/${marker}").write_text("x"); seen.append("wrote-cache")`, 'except OSError as e:', '    seen.append(f"refused-{e.errno}")',
        'print("SEEN", seen)', '',
      ].join('\n'),
    });
    const victim = scratchWorkspace('isolation', {
      'dags/airflow-runtime.yaml': base,
      'dags/look.py': `import os\nfrom airflow import DAG\nprint("MARKER", os.path.exists("/opt/airflow-runtime/cache/${marker}"))\n`,
    });
    for (const mode of [[], ['--cold']]) {
      const attack = await cli(['parse', 'dags', '--engine', 'docker', '--format', 'json', ...mode], { cwd: attacker });
      assert.equal(attack.code, 0, attack.stderr);
      const seen = /SEEN \[(.*)\]/.exec(JSON.parse(attack.stdout)[0].output.tail)?.[1] ?? '';
      assert.match(seen, /refused-30/, seen); // EROFS: the cache is read-only
      assert.doesNotMatch(seen, /wrote/, seen);
      const look = await cli(['parse', 'dags', '--engine', 'docker', '--format', 'json', ...mode], { cwd: victim });
      assert.equal(look.code, 0, look.stderr);
      assert.match(JSON.parse(look.stdout)[0].output.tail, /MARKER False/);
    }
  });

  it('our cache step (root, the cache writable) runs nothing of the project: no sitecustomize, no airflow_local_settings', async () => {
    const marker = `planted-${process.pid}-${Date.now()}`;
    const plant = `import os\ntry:\n    open(os.path.join(os.environ.get("AIRFLOW_RUNTIME_CACHE", "/nonexistent"), "${marker}"), "w").write("x")\nexcept OSError:\n    pass\n`;
    const ws = scratchWorkspace('isolation', {
      'dags/airflow-runtime.yaml': base, 'dags/quick.py': 'from airflow import DAG\n',
      'config/sitecustomize.py': plant, 'config/airflow_local_settings.py': plant, 'plugins/sitecustomize.py': plant,
    });
    // a cache of its own: nothing recorded, so the cache step runs
    const cache = mkdtempSync(path.join(os.tmpdir(), 'airflow-runtime-cache-step-'));
    try {
      for (const engine of ['docker', 'local']) {
        const { code, stderr } = await cli(['parse', 'dags', '--engine', engine], { cwd: ws, env: { AIRFLOW_RUNTIME_CACHE_DIR: cache } });
        assert.equal(code, 0, stderr);
      }
      const inVolume = spawnSync('docker', ['run', '--rm', '--network', 'none', '-v', 'airflow-runtime-cache:/c', image(VERSION), 'sh', '-c', `test ! -e /c/${marker}`]);
      assert.equal(inVolume.status, 0, 'project code wrote into the Docker runtime cache');
      assert.equal(existsSync(path.join(cache, 'harness', marker)), false, 'project code wrote into the local runtime cache');
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it('a template database changed behind our back is made again, and the parse goes on', async () => {
    // what a container of an older version, or a person, could do to the shared volume
    const tamper = spawnSync('docker', ['run', '--rm', '--network', 'none', '-v', 'airflow-runtime-cache:/c', image(VERSION), 'sh', '-c',
      `for f in /c/airflow-${VERSION}-*/airflow*.db; do echo tampered >> "$f"; done`], { encoding: 'utf8' });
    assert.equal(tamper.status, 0, tamper.stderr);
    const ws = scratchWorkspace('isolation', { 'dags/airflow-runtime.yaml': base, 'dags/quick.py': 'from airflow import DAG\n' });
    const { code, stderr } = await cli(['parse', 'dags', '--engine', 'docker'], { cwd: ws });
    assert.equal(code, 0, stderr);
    assert.match(stderr, /^dags\/quick\.py: ok/m);
  });
});

/** A DAG file that tries the ways out of a local sandbox at parse time and prints what worked. */
const hostileLocal = (home: string, marker: string) => [
  'import os, pathlib, socket, subprocess', 'from airflow import DAG', 'seen = []',
  'try:', '    pathlib.Path(__file__).with_name("written_by_dag.txt").write_text("x"); seen.append("wrote-dags")', 'except OSError:', '    pass',
  `seen.append("home:" + ",".join(sorted(os.listdir(${JSON.stringify(home)}))))`,
  'for port in (2375, 22, 80):',
  '    try:', '        socket.create_connection(("127.0.0.1", port), timeout=1); seen.append(f"reached:{port}")', '    except OSError:', '        pass',
  'try:', '    s = socket.socket(socket.AF_UNIX); s.connect("/var/run/docker.sock"); seen.append("reached:docker.sock")', 'except OSError:', '    pass',
  'import glob',
  'for p in glob.glob(os.environ["AIRFLOW_RUNTIME_CACHE"] + "/*/*.db"):',
  '    try:', '        open(p, "ab").write(b"poison"); seen.append("wrote-template")', '    except OSError:', '        pass',
  // run as root, a sandbox that keeps capabilities lets a DAG make a device node of the host disk and mount it
  'try:', '    os.mknod("/tmp/hostdisk", 0o600 | 0o060000, os.makedev(8, 0)); seen.append("mknod")', 'except OSError:', '    pass',
  'if subprocess.run(["mount", "-t", "tmpfs", "none", "/mnt"], capture_output=True).returncode == 0:', '    seen.append("mounted")',
  // a daemon of its own session, away from its parent: it must not outlive the parse
  `subprocess.Popen(["sh", "-c", "exec sleep 300 ${marker}"], start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)`,
  'print("SEEN", seen)', '',
].join('\n');

/** The sandboxes this machine has, strongest first: bubblewrap (scripts/env/sandbox.sh) and util-linux's unshare. */
const SANDBOXES = [...(sandboxProblem() ? [] : ['bubblewrap']), 'unshare'];

describe('the local emulator walls off what the machine allows', { ...needs(dockerProblem(), venvProblem()), timeout: 240_000 }, () => {
  for (const sandbox of SANDBOXES) {
    it(`with ${sandbox}: a hostile DAG file parsed locally cannot write the DAGs folder or the cache, make devices, mount, reach 127.0.0.1, or leave a daemon`, async () => {
      const home = os.homedir();
      const marker = `airflow-runtime-daemon-${process.pid}-${Date.now()}-${sandbox}`;
      const ws = scratchWorkspace('isolation', { 'dags/airflow-runtime.yaml': base, 'dags/hostile.py': hostileLocal(home, marker) });
      for (const mode of [[], ['--cold']]) {
        const { code, stdout, stderr } = await cli(['parse', 'dags', '--engine', 'local', '--format', 'json', ...mode], { cwd: ws, env: { AIRFLOW_RUNTIME_SANDBOX: sandbox === 'bubblewrap' ? 'bwrap' : 'unshare' } });
        assert.equal(code, 0, stderr);
        assert.match(stderr, new RegExp(`sandboxed with ${sandbox === 'bubblewrap' ? 'bubblewrap' : 'unshare'}`));
        const seen = /SEEN \[(.*)\]/.exec(JSON.parse(stdout)[0].output.tail)?.[1] ?? '';
        assert.doesNotMatch(seen, /wrote-dags|wrote-template|reached|mknod|mounted/, seen);
        // HOME is an empty folder but for what the harness must read (the interpreter, our cache)
        assert.doesNotMatch(seen, /\.docker|\.aws|\.ssh|\.bash_history|\.profile|\.bashrc/, `HOME is visible: ${seen}`);
        assert.equal(existsSync(path.join(ws, 'dags', 'written_by_dag.txt')), false);
        const survivors = spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' }).stdout.trim();
        assert.equal(survivors, '', `a daemon of the DAG outlived the parse: pids ${survivors}`);
      }
    });
  }
});

describe('a root image runs as a uid that is not root', { ...real, timeout: 300_000 }, () => {
  const whoami = 'import os\nfrom airflow import DAG\nprint("UID", os.getuid(), "GID", os.getgid())\n';
  const uidOf = (stdout: string) => /UID (\d+) GID (\d+)/.exec(JSON.parse(stdout)[0].output.tail)?.slice(1).join(':');

  it('a parse runs as uid 50000 (the host is root) cold and warm, and `user: root` asks for root', async () => {
    const ws = scratchWorkspace('isolation', {
      'dags/airflow-runtime.yaml': base, 'dags/who.py': whoami,
      'dags/root.airflow-runtime.yaml': 'user: root\n', 'dags/root.py': whoami,
    });
    for (const mode of [[], ['--cold']]) {
      const plain = await cli(['parse', 'dags/who.py', '--engine', 'docker', '--format', 'json', ...mode], { cwd: ws });
      assert.equal(plain.code, 0, plain.stderr);
      assert.equal(uidOf(plain.stdout), process.getuid?.() ? `${process.getuid?.()}:0` : '50000:0');
      const root = await cli(['parse', 'dags/root.py', '--engine', 'docker', '--format', 'json', ...mode], { cwd: ws });
      assert.equal(root.code, 0, root.stderr);
      assert.equal(uidOf(root.stdout), '0:0');
    }
  });

  it('a task runs as that uid too, with a home and Airflow logs it can write', async () => {
    const ws = scratchWorkspace('isolation', {
      'dags/airflow-runtime.yaml': base,
      'dags/tasks.py': 'import os\nfrom datetime import datetime\nfrom airflow import DAG\nfrom airflow.operators.python import PythonOperator\n'
        + 'with DAG(dag_id="tasks", schedule=None, start_date=datetime(2024, 1, 1)):\n'
        + '    PythonOperator(task_id="who", python_callable=lambda: print("TASK UID", os.getuid(), os.path.expanduser("~")))\n',
    });
    const { code, stdout, stderr } = await cli(['run', 'dags/tasks.py', 'tasks', 'who', '--engine', 'docker'], { cwd: ws });
    assert.equal(code, 0, stdout + stderr);
    assert.match(stdout + stderr, /TASK UID (50000|\d+) \/tmp/);
  });

  it('a DAG file only its owner may read (umask 077, another uid) is an import error as on a worker; with `user: root` it parses', async () => {
    const ws = scratchWorkspace('isolation', { 'dags/airflow-runtime.yaml': base, 'dags/private.py': 'from airflow import DAG\n' });
    chownSync(path.join(ws, 'dags/private.py'), 4242, 4242);
    chmodSync(path.join(ws, 'dags/private.py'), 0o600);
    for (const mode of [[], ['--cold']]) {
      const denied = await cli(['parse', 'dags', '--engine', 'docker', ...mode], { cwd: ws });
      assert.equal(denied.code, 1, denied.stderr);
      assert.match(denied.stdout, /^dags\/private\.py:\d+:\d+: error: .*Permission denied/m);
    }
    writeFileSync(path.join(ws, 'dags/airflow-runtime.yaml'), `${base}user: root\n`);
    for (const mode of [[], ['--cold']]) {
      const { code, stderr } = await cli(['parse', 'dags', '--engine', 'docker', ...mode], { cwd: ws });
      assert.equal(code, 0, stderr);
      assert.match(stderr, /^dags\/private\.py: ok/m);
    }
  });

  it('`user: root` where the image has a user of its own is refused at its line, unless the person allows it', async () => {
    const tag = `airflow-runtime-test/with-user:${process.pid}`;
    const built = spawnSync('docker', ['build', '-q', '-t', tag, '-'], { input: `FROM ${image(VERSION)}\nUSER 50000\n`, encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    try {
      const ws = scratchWorkspace('isolation', { 'dags/airflow-runtime.yaml': `image: ${tag}\npull: never\nuser: root\n`, 'dags/who.py': whoami });
      const refused = await cli(['parse', 'dags', '--engine', 'docker'], { cwd: ws });
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /dags\/airflow-runtime\.yaml:3: `user: root` runs as root where the image runs as "50000": a runtime file cannot open the host by itself/);
      const granted = await cli(['parse', 'dags', '--engine', 'docker', '--format', 'json', '--allow-host-access'], { cwd: ws });
      assert.equal(granted.code, 0, granted.stderr);
      assert.equal(uidOf(granted.stdout), '0:0');
      assert.match(JSON.parse(granted.stdout)[0].engine.detail, /as root \(user: root, allowed by --allow-host-access\)/, 'the grant is reported');
      writeFileSync(path.join(ws, 'dags/airflow-runtime.yaml'), `image: ${tag}\npull: never\n`);
      const own = await cli(['parse', 'dags', '--engine', 'docker', '--format', 'json'], { cwd: ws });
      assert.equal(own.code, 0, own.stderr);
      assert.equal(uidOf(own.stdout), '50000:0');
    } finally {
      spawnSync('docker', ['rmi', '-f', tag]);
    }
  });
});

describe('containers are hardened by default', { ...real, timeout: 300_000 }, () => {
  for (const [what, args] of [['a parse', ['parse', 'dags/hang.py', '--cold']], ['a warm parse', ['parse', 'dags/hang.py', 'dags/quick.py']], ['a run', ['run', 'dags/tasks.py', 'tasks', 'hang']]] as const) {
    it(`docker inspect of ${what}`, async () => {
      const ws = scratchWorkspace('isolation', {
        'dags/airflow-runtime.yaml': `${base}timeouts:\n  parse: 2m\n  run: 2m\n`,
        'dags/hang.py': 'import time\nfrom airflow import DAG\ntime.sleep(120)\n', 'dags/quick.py': 'from airflow import DAG\n',
        'dags/tasks.py': 'from datetime import datetime\nfrom airflow import DAG\nfrom airflow.operators.bash import BashOperator\nwith DAG(dag_id="tasks", schedule=None, start_date=datetime(2024, 1, 1)):\n    BashOperator(task_id="hang", bash_command="sleep 120")\n',
      });
      const running = cli([...args, '--engine', 'docker'], { cwd: ws });
      let inspected: { Id: string; HostConfig: Record<string, unknown> & { CapAdd: string[]; Binds: string[] } } | undefined;
      for (let i = 0; i < 300 && !inspected; i++) {
        await new Promise((r) => setTimeout(r, 200));
        const label = { 'a parse': path.join(ws, 'dags/hang.py'), 'a warm parse': `warm:${path.join(ws, 'dags')}`, 'a run': path.join(ws, 'dags/tasks.py') }[what];
        const id = spawnSync('docker', ['ps', '-q', '--filter', 'label=airflow-runtime.managed=true', '--filter', `label=airflow-runtime.dag-file=${label}`], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
        if (id) inspected = JSON.parse(spawnSync('docker', ['inspect', id], { encoding: 'utf8' }).stdout)[0];
      }
      spawnSync('docker', ['rm', '-f', inspected?.Id ?? 'none']);
      await running;
      assert.ok(inspected, 'the container was never seen');
      const host = inspected.HostConfig;
      assert.deepEqual(host.SecurityOpt, ['no-new-privileges']);
      assert.deepEqual(host.CapDrop, ['ALL']);
      assert.deepEqual(host.CapAdd, ['DAC_OVERRIDE']);
      assert.equal(host.PidsLimit, 1024);
      assert.equal(host.Memory, 4 * 1024 ** 3);
      // /tmp in the container's memory, at most half of it: not the host's disk
      assert.deepEqual(host.Tmpfs, { '/tmp': `rw,exec,nosuid,nodev,mode=1777,size=${2 * 1024 ** 3}` });
      assert.equal(host.Privileged, false);
      assert.equal((inspected as unknown as { Config: { User: string } }).Config.User, process.getuid?.() ? `${process.getuid?.()}:0` : '50000:0');
      assert.equal(host.NetworkMode, args[0] === 'run' ? 'bridge' : 'none');
      // read-only but the result folder of a cold parse (a private temp folder of ours)
      for (const bind of host.Binds.filter((b) => !b.endsWith(':/opt/airflow-runtime/out'))) assert.match(bind, /:ro$/, `a writable bind: ${bind}`);
      assert.deepEqual((host.Mounts as Array<{ Target: string; ReadOnly?: boolean }>).map((m) => [m.Target, m.ReadOnly]), [['/opt/airflow-runtime/cache', true]]);
    });
  }
});

describe('a parse cannot read the warm runtime it was forked from', { ...real, timeout: 300_000 }, () => {
  it('/proc/<parent>/mem of the warm server is refused, on both engines', async () => {
    const ws = scratchWorkspace('isolation', {
      'dags/airflow-runtime.yaml': base,
      'dags/peek.py': [
        'import os', 'from airflow import DAG', 'seen = []',
        'try:', '    open(f"/proc/{os.getppid()}/mem", "rb").read(1); seen.append("read-parent-mem")', 'except OSError as e:', '    seen.append(f"refused-{e.errno}")',
        'print("SEEN", seen)', '',
      ].join('\n'),
      'dags/quick.py': 'from airflow import DAG\n',
    });
    for (const engine of ['docker', 'local']) {
      const { code, stdout, stderr } = await cli(['parse', 'dags', '--engine', engine, '--format', 'json'], { cwd: ws });
      assert.equal(code, 0, stderr);
      const peek = (JSON.parse(stdout) as { file: string; output: { tail: string } }[]).find((r) => r.file.endsWith('peek.py'));
      const seen = /SEEN \[(.*)\]/.exec(peek?.output.tail ?? '')?.[1] ?? '';
      assert.match(seen, /refused-/, `${engine}: ${seen}`);
    }
  });
});
