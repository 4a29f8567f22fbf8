/** `build` in a runtime file, against the real engine: the context sent honours .dockerignore. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { connectDocker } from '../../src/core/engine/docker/connect';
import { ensureImage } from '../../src/core/engine/docker/images';
import { dockerProblem, needs, REMOTE, remoteProblem, scratchWorkspace } from './support';

const BASE = 'airflow-runtime-base:bookworm';
const baseProblem = () => (spawnSync('docker', ['-H', 'unix:///var/run/docker.sock', 'image', 'inspect', BASE]).status === 0 ? undefined : `image ${BASE} missing (run scripts/env/images.sh)`);

describe('build from a runtime file', needs(dockerProblem(), remoteProblem(), baseProblem()), () => {
  it('sends the context less what .dockerignore excludes, and the Dockerfile even when excluded (over a remote engine too)', async () => {
    const context = scratchWorkspace('build', {
      'docker/Dockerfile': `FROM ${BASE}\nCOPY . /ctx\n`,
      'docker/.dockerignore': 'Dockerfile\n*.log\ndata\n!data/keep.txt\nnode_modules\n',
      'docker/requirements.txt': 'pandas\n',
      'docker/debug.log': 'noise',
      'docker/data/big.bin': 'x'.repeat(1024 * 1024),
      'docker/data/keep.txt': 'kept',
      'docker/node_modules/m/index.js': '',
    }) + '/docker';
    const tag = `airflow-runtime-test/build-dockerignore:${process.pid}`;
    for (const endpoint of ['unix:///var/run/docker.sock', REMOTE]) {
      const { docker } = await connectDocker(endpoint);
      try {
        const built = await ensureImage(docker, { image: tag, build: { context } }, new Set(), {});
        assert.equal(built, tag);
        const listing = spawnSync('docker', ['-H', 'unix:///var/run/docker.sock', 'run', '--rm', '--network', 'none', tag, 'find', '/ctx', '-type', 'f'], { encoding: 'utf8' });
        assert.equal(listing.status, 0, listing.stderr);
        // The Dockerfile was sent (the build needs it), and COPY leaves it out as .dockerignore says.
        assert.deepEqual(listing.stdout.trim().split('\n').sort(), ['/ctx/.dockerignore', '/ctx/data/keep.txt', '/ctx/requirements.txt'], endpoint);
      } finally {
        spawnSync('docker', ['-H', 'unix:///var/run/docker.sock', 'rmi', '-f', tag]);
      }
    }
    rmSync(path.dirname(context), { recursive: true, force: true });
  });
});
