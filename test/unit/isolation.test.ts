/** What the local emulator hands to DAG code and to package installers from the host's environment. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostEnvironment } from '../../src/core/engine/local/hostEnvironment';
import { hostAccessOf } from '../../src/cli/runtimeFor';
import { containerUser, isRootUser, needsPasswdLookup, UNPRIVILEGED_UID } from '../../src/core/engine/docker/user';
import type { EngineError } from '../../src/core/engine/errors';

const HOST = {
  PATH: '/usr/bin', HOME: '/home/ann', AWS_SECRET_ACCESS_KEY: 'secret', GITHUB_TOKEN: 'ghp', DOCKER_HOST: 'tcp://x:2375',
  HTTPS_PROXY: 'http://proxy:3128', PIP_INDEX_URL: 'https://mirror/simple', SSL_CERT_FILE: '/etc/ssl/ca.pem',
};

describe('the host environment, cut down', () => {
  it('DAG code gets what a process needs, never the host\'s secrets', () => {
    assert.deepEqual(hostEnvironment('harness', HOST), { PATH: '/usr/bin', HOME: '/home/ann', SSL_CERT_FILE: '/etc/ssl/ca.pem' });
  });

  it('a venv build also gets proxies and package indexes, still no secrets', () => {
    const env = hostEnvironment('installer', HOST);
    assert.equal(env.HTTPS_PROXY, 'http://proxy:3128');
    assert.equal(env.PIP_INDEX_URL, 'https://mirror/simple');
    for (const secret of ['AWS_SECRET_ACCESS_KEY', 'GITHUB_TOKEN', 'DOCKER_HOST']) assert.equal(env[secret], undefined, secret);
  });
});

describe('host access, as the terminal grants it', () => {
  it('the flag, else the environment variable; off by default and for 0/false', () => {
    assert.deepEqual(hostAccessOf(true, {}), { allowed: true, by: '--allow-host-access' });
    assert.deepEqual(hostAccessOf(undefined, { AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS: '1' }), { allowed: true, by: 'AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS=1' });
    for (const value of [undefined, '0', 'false', '', 'off']) assert.equal(hostAccessOf(undefined, { AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS: value }).allowed, false, String(value));
  });
});

describe('who a container runs as', () => {
  const none = { allowed: false };
  it('a root image runs as a uid that is not root: this person\'s on a local daemon, else 50000, with group 0', () => {
    for (const imageUser of ['', 'root', '0', '0:0']) {
      assert.equal(containerUser({ imageUser, hostAccess: none, hostUid: 1000 }).user, '1000:0', imageUser);
      assert.equal(containerUser({ imageUser, hostAccess: none }).user, `${UNPRIVILEGED_UID}:0`, imageUser);
      assert.equal(containerUser({ imageUser, hostAccess: none, hostUid: 0 }).user, `${UNPRIVILEGED_UID}:0`, 'a root host never lends its uid');
    }
    assert.deepEqual(containerUser({ imageUser: '', hostAccess: none }).env, { HOME: '/tmp', USER: 'airflow', LOGNAME: 'airflow' });
  });

  it('an image with a user of its own runs as that user', () => {
    const choice = containerUser({ imageUser: 'airflow', hostAccess: none, hostUid: 1000 });
    assert.equal(choice.user, undefined);
    assert.match(choice.describe, /airflow \(the image's user\)/);
  });

  it('`user: root` is how a root image keeps root; where the image has another user it is the person\'s to grant', () => {
    assert.equal(containerUser({ imageUser: '', asked: { value: 'root' }, hostAccess: none }).user, '0:0');
    const source = { kind: 'file' as const, file: 'dags/airflow-runtime.yaml', line: 4, column: 7 };
    assert.throws(() => containerUser({ imageUser: 'airflow', asked: { value: '0', source }, hostAccess: none }),
      (error: EngineError) => error.code === 'bad-runtime' && /^dags\/airflow-runtime\.yaml:4: `user: 0` runs as root where the image runs as "airflow"/.test(error.message) && /--allow-host-access/.test(error.hint ?? ''));
    const granted = containerUser({ imageUser: 'airflow', asked: { value: 'root', source }, hostAccess: { allowed: true, by: '--allow-host-access' } });
    assert.equal(granted.user, '0:0');
    assert.match(granted.describe, /allowed by --allow-host-access/);
  });

  it('any other user asked for is used as it is', () => {
    assert.equal(containerUser({ imageUser: '', asked: { value: '1234:1234' }, hostAccess: none }).user, '1234:1234');
  });
});

describe('root by any spelling is root (item 7)', () => {
  const none = { allowed: false };
  const source = { kind: 'file' as const, file: 'dags/airflow-runtime.yaml', line: 3, column: 7 };

  it('00, +0, -0, 00:00, 0:0 and 0:1000 are uid 0', () => {
    for (const user of ['0', '00', '+0', '-0', '000:000', '00:00', '0:0', '0:1000', 'root', 'root:root', '']) assert.equal(isRootUser(user), true, user);
    for (const user of ['1000', '50000:0', '+1', '10', 'airflow']) assert.equal(isRootUser(user), false, user);
  });

  it('asked for where the image runs as another user, each is refused at its line', () => {
    for (const value of ['00', '+0', '00:00', '0:0', '-0']) {
      assert.throws(() => containerUser({ imageUser: 'airflow', asked: { value, source }, hostAccess: none }),
        (error: EngineError) => error.code === 'bad-runtime' && error.message.startsWith(`dags/airflow-runtime.yaml:3: \`user: ${value}\` runs as root`), value);
    }
  });

  it('a name is root when the image\'s /etc/passwd gives it uid 0; unread, when it is a root alias', () => {
    assert.throws(() => containerUser({ imageUser: 'airflow', asked: { value: 'admin', source, uidInImage: 0 }, hostAccess: none }), /`user: admin` runs as root/);
    assert.equal(containerUser({ imageUser: 'airflow', asked: { value: 'admin', uidInImage: 1001 }, hostAccess: none }).user, 'admin');
    assert.throws(() => containerUser({ imageUser: 'airflow', asked: { value: 'toor', source }, hostAccess: none }), /`user: toor` runs as root/);
    assert.equal(containerUser({ imageUser: 'airflow', asked: { value: 'toor', uidInImage: 1002 }, hostAccess: none }).user, 'toor');
  });

  it('the image is read only for a name other than root', () => {
    for (const user of ['airflow', 'admin:0', 'toor']) assert.equal(needsPasswdLookup(user), true, user);
    for (const user of [undefined, '', 'root', '0', '+0', '1000:0']) assert.equal(needsPasswdLookup(user), false, String(user));
  });
});
