import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { dockerOptions, endpointCandidates } from '../../src/core/engine/docker/endpoint';

describe('which Docker endpoint', () => {
  const noContext = { DOCKER_CONFIG: '/nonexistent', XDG_RUNTIME_DIR: '/nonexistent' };

  it('the explicit setting wins, and alone', () => {
    assert.deepEqual(endpointCandidates('tcp://h:2375', { ...noContext, DOCKER_HOST: 'unix:///x.sock' }), [{ url: 'tcp://h:2375', origin: 'the airflowRuntime.docker.endpoint setting' }]);
  });

  it('then DOCKER_HOST, alone', () => {
    assert.deepEqual(endpointCandidates(undefined, { ...noContext, DOCKER_HOST: 'ssh://me@box' }), [{ url: 'ssh://me@box', origin: 'DOCKER_HOST' }]);
  });

  it('then the current Docker context', () => {
    const config = mkdtempSync(path.join(tmpdir(), 'docker-config-'));
    writeFileSync(path.join(config, 'config.json'), JSON.stringify({ currentContext: 'colima' }));
    const meta = path.join(config, 'contexts', 'meta', createHash('sha256').update('colima').digest('hex'));
    mkdirSync(meta, { recursive: true });
    writeFileSync(path.join(meta, 'meta.json'), JSON.stringify({ Name: 'colima', Endpoints: { docker: { Host: 'unix:///home/me/.colima/docker.sock' } } }));
    assert.deepEqual(endpointCandidates(undefined, { DOCKER_CONFIG: config, XDG_RUNTIME_DIR: '/nonexistent' }), [
      { url: 'unix:///home/me/.colima/docker.sock', origin: 'Docker context "colima"' },
    ]);
  });

  it('else the well-known sockets that exist, then the default socket', () => {
    const runtimeDir = mkdtempSync(path.join(tmpdir(), 'xdg-runtime-'));
    writeFileSync(path.join(runtimeDir, 'docker.sock'), '');
    assert.deepEqual(endpointCandidates(undefined, { DOCKER_CONFIG: '/nonexistent', XDG_RUNTIME_DIR: runtimeDir }).map((c) => c.origin).filter((o) => o !== 'Podman'), [
      'rootless Docker', 'the default socket',
    ]);
  });

  it('dockerode options set every connection key, so DOCKER_HOST cannot leak in', () => {
    assert.deepEqual(dockerOptions('unix:///var/run/docker.sock'), { options: { socketPath: '/var/run/docker.sock', host: undefined, port: undefined, protocol: undefined }, local: true });
    assert.deepEqual(dockerOptions('tcp://10.0.0.5:2375', {}), { options: { socketPath: undefined, host: '10.0.0.5', port: 2375, protocol: 'http' }, local: false });
    assert.deepEqual(dockerOptions('ssh://me@box:2222', {}).options, { socketPath: undefined, host: 'box', port: 2222, protocol: 'ssh', username: 'me' });
  });
});
