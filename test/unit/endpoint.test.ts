import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { dockerOptions, type EndpointHost, endpointCandidates } from '../../src/core/engine/docker/endpoint';

/** A machine made of the listed files (path -> content), for user 1000 with home /home/me. */
function fakeHost(files: Record<string, string> = {}, uid: number | undefined = 1000): EndpointHost {
  return {
    exists: (file) => Object.hasOwn(files, file),
    read: (file) => {
      if (!Object.hasOwn(files, file)) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
      return Buffer.from(files[file]);
    },
    uid,
    home: '/home/me',
  };
}

/** A Docker config with a current context whose endpoint is `host`, as `docker context create` writes it. */
function dockerConfig(dir: string, context: string, host: string, current = context): Record<string, string> {
  const id = createHash('sha256').update(context).digest('hex');
  return {
    [`${dir}/config.json`]: JSON.stringify({ auths: {}, currentContext: current }),
    [`${dir}/contexts/meta/${id}/meta.json`]: JSON.stringify({ Name: context, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } }),
  };
}

const urls = (env: NodeJS.ProcessEnv, host: EndpointHost, explicit?: string) => endpointCandidates(explicit, env, host).map((c) => `${c.url} (${c.origin})`);

describe('which Docker endpoint', () => {
  it('the explicit setting wins, and alone', () => {
    const host = fakeHost({ ...dockerConfig('/home/me/.docker', 'colima', 'unix:///c.sock'), '/run/user/1000/docker.sock': '' });
    assert.deepEqual(urls({ DOCKER_HOST: 'unix:///x.sock' }, host, 'tcp://h:2375'), ['tcp://h:2375 (the airflowRuntime.docker.endpoint setting)']);
  });

  it('then DOCKER_HOST, alone, whatever its scheme', () => {
    const host = fakeHost({ ...dockerConfig('/home/me/.docker', 'colima', 'unix:///c.sock'), '/run/user/1000/docker.sock': '' });
    for (const url of ['unix:///srv/docker.sock', 'tcp://10.0.0.5:2376', 'ssh://me@box']) {
      assert.deepEqual(urls({ DOCKER_HOST: url }, host), [`${url} (DOCKER_HOST)`]);
    }
  });

  it('then the current context of the Docker config in ~/.docker, alone', () => {
    const host = fakeHost({ ...dockerConfig('/home/me/.docker', 'colima', 'unix:///home/me/.colima/docker.sock'), '/var/run/docker.sock': '' });
    assert.deepEqual(urls({}, host), ['unix:///home/me/.colima/docker.sock (Docker context "colima")']);
  });

  it('DOCKER_CONFIG moves the config; DOCKER_CONTEXT chooses the context over the config\'s', () => {
    const files = { ...dockerConfig('/etc/dc', 'colima', 'unix:///c.sock'), ...dockerConfig('/etc/dc', 'remote', 'ssh://me@build-box', 'colima') };
    files['/etc/dc/config.json'] = JSON.stringify({ currentContext: 'colima' });
    assert.deepEqual(urls({ DOCKER_CONFIG: '/etc/dc' }, fakeHost(files)), ['unix:///c.sock (Docker context "colima")']);
    assert.deepEqual(urls({ DOCKER_CONFIG: '/etc/dc', DOCKER_CONTEXT: 'remote' }, fakeHost(files)), ['ssh://me@build-box (Docker context "remote")']);
  });

  it('the "default" context, a context without metadata, or an unreadable config name no endpoint', () => {
    const expected = ['unix:///var/run/docker.sock (the default socket)'];
    assert.deepEqual(urls({}, fakeHost({ '/home/me/.docker/config.json': JSON.stringify({ currentContext: 'default' }) })), expected);
    assert.deepEqual(urls({}, fakeHost({ '/home/me/.docker/config.json': JSON.stringify({ currentContext: 'gone' }) })), expected);
    assert.deepEqual(urls({}, fakeHost({ '/home/me/.docker/config.json': '{ not json' })), expected);
  });

  it('with none named: rootless Docker, rootless Podman, Podman, then the default socket, those that exist', () => {
    const host = fakeHost({ '/run/user/1000/docker.sock': '', '/run/user/1000/podman/podman.sock': '', '/run/podman/podman.sock': '' });
    assert.deepEqual(urls({}, host), [
      'unix:///run/user/1000/docker.sock (rootless Docker)',
      'unix:///run/user/1000/podman/podman.sock (Podman (rootless))',
      'unix:///run/podman/podman.sock (Podman)',
      'unix:///var/run/docker.sock (the default socket)',
    ]);
  });

  it('XDG_RUNTIME_DIR is where rootless sockets are looked for', () => {
    const host = fakeHost({ '/tmp/xdg/docker.sock': '', '/run/user/1000/docker.sock': '' });
    assert.deepEqual(urls({ XDG_RUNTIME_DIR: '/tmp/xdg' }, host), ['unix:///tmp/xdg/docker.sock (rootless Docker)', 'unix:///var/run/docker.sock (the default socket)']);
  });

  it('only Podman\'s rootful socket: it, then the default', () => {
    assert.deepEqual(urls({}, fakeHost({ '/run/podman/podman.sock': '' })), ['unix:///run/podman/podman.sock (Podman)', 'unix:///var/run/docker.sock (the default socket)']);
  });

  it('nothing at all: the default socket, to be tried and reported', () => {
    assert.deepEqual(urls({}, fakeHost({}, undefined)), ['unix:///var/run/docker.sock (the default socket)']);
  });

  it('a rootless socket that is the default socket is tried once', () => {
    assert.deepEqual(urls({ XDG_RUNTIME_DIR: '/var/run' }, fakeHost({ '/var/run/docker.sock': '' })), ['unix:///var/run/docker.sock (rootless Docker)']);
  });
});

describe('dockerode options for an endpoint', () => {
  const none = fakeHost();

  it('set every connection key, so that DOCKER_HOST cannot leak in through docker-modem', () => {
    assert.deepEqual(dockerOptions('unix:///var/run/docker.sock', {}, none), { options: { socketPath: '/var/run/docker.sock', host: undefined, port: undefined, protocol: undefined }, local: true });
  });

  it('tcp: plain http on 2375, and remote (no bind mounts)', () => {
    assert.deepEqual(dockerOptions('tcp://10.0.0.5:2375', {}, none), { options: { socketPath: undefined, host: '10.0.0.5', port: 2375, protocol: 'http' }, local: false });
    assert.deepEqual(dockerOptions('tcp://127.0.0.1', {}, none), { options: { socketPath: undefined, host: '127.0.0.1', port: 2375, protocol: 'http' }, local: false });
  });

  it('tcp with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH: https on 2376 with the client certificates', () => {
    const host = fakeHost({ '/certs/ca.pem': 'CA', '/certs/cert.pem': 'CERT', '/certs/key.pem': 'KEY' });
    const { options, local } = dockerOptions('tcp://docker.example:2376', { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' }, host);
    assert.equal(local, false);
    assert.deepEqual({ ...options, ca: String(options.ca), cert: String(options.cert), key: String(options.key) }, {
      socketPath: undefined, host: 'docker.example', port: 2376, protocol: 'https', ca: 'CA', cert: 'CERT', key: 'KEY',
    });
    assert.equal(dockerOptions('tcp://docker.example', { DOCKER_TLS_VERIFY: '1' }, none).options.port, 2376);
    assert.deepEqual(dockerOptions('tcp://docker.example', { DOCKER_TLS_VERIFY: '1' }, none).options.protocol, 'https');
  });

  it('ssh: user, host and port (22 by default), remote', () => {
    assert.deepEqual(dockerOptions('ssh://me@box:2222', {}, none), { options: { socketPath: undefined, host: 'box', port: 2222, protocol: 'ssh', username: 'me' }, local: false });
    assert.deepEqual(dockerOptions('ssh://box', {}, none).options, { socketPath: undefined, host: 'box', port: 22, protocol: 'ssh', username: undefined });
  });
});
