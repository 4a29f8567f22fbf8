/** What the local emulator hands to DAG code and to package installers from the host's environment. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostEnvironment } from '../../src/core/engine/local/hostEnvironment';
import { hostAccessOf } from '../../src/cli/runtimeFor';

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
    for (const value of [undefined, '0', 'false', '']) assert.equal(hostAccessOf(undefined, { AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS: value }).allowed, false, String(value));
  });
});
