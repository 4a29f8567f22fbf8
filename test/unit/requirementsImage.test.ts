/** The image build's pure parts: pip's settings as pip reports them, and pip's failures put at their lines. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import type Docker from 'dockerode';
import { pipConfFor, readPipConfigList } from '../../src/core/engine/docker/hostPip';
import { leftoverBuildSteps } from '../../src/core/engine/docker/builtImages';
import { type Additions, builtImageName, LABEL_BUILD_STEP, requirementFailure } from '../../src/core/engine/docker/requirementsImage';
import { ME, ownerId } from '../../src/core/engine/owner';
import { requirementLines } from '../../src/core/runtime/requirements';

const additions = (text: string, file = '/ws/requirements.txt'): Additions => ({ requirementsText: text, requirements: requirementLines(text, '/ws'), constraints: [], requirementsFile: file, packages: [] });
const PIP = { extraIndexUrls: [], trustedHosts: [] };

describe('the host\'s pip settings', () => {
  it('are read from `pip config list`, its environment first, then install, then global', () => {
    const listed = [
      ":env:.cert='/etc/ssl/certs/ca-certificates.crt'",
      ":env:.find-links='/opt/wheels'",
      "global.cert='/elsewhere.pem'",
      "global.index-url='https://user:secret@pypi.example.invalid/simple'",
      "install.index-url='https://mirror.example.invalid/simple'",
      "global.trusted-host='pypi.example.invalid mirror.example.invalid'",
    ].join('\n');
    assert.deepEqual(readPipConfigList(listed), {
      cert: '/etc/ssl/certs/ca-certificates.crt', 'index-url': 'https://mirror.example.invalid/simple', 'trusted-host': 'pypi.example.invalid mirror.example.invalid',
    });
  });

  it('become a pip.conf of those settings only, the CA at the build\'s own path', () => {
    const conf = pipConfFor({ indexUrl: 'https://i.invalid/simple', extraIndexUrls: ['https://x.invalid/simple'], trustedHosts: ['i.invalid'], caBundle: 'PEM' }, '/b/ca.crt');
    assert.match(conf, /^index-url = https:\/\/i\.invalid\/simple$/m);
    assert.match(conf, /^extra-index-url = https:\/\/x\.invalid\/simple$/m);
    assert.match(conf, /^trusted-host = i\.invalid$/m);
    assert.match(conf, /^cert = \/b\/ca\.crt$/m);
  });
});

describe('the built image\'s name', () => {
  it('changes with the requirements as pip reads them, not with comments, and its label holds no password', () => {
    const pip = { ...PIP, indexUrl: 'https://user:secret@pypi.example.invalid/simple' };
    const a = builtImageName('sha256:1', 'base:1', additions('six==1.16.0\n'), pip);
    assert.equal(builtImageName('sha256:1', 'base:1', additions('# pinned\nsix==1.16.0  # why\n'), pip).tag, a.tag);
    assert.notEqual(builtImageName('sha256:1', 'base:1', additions('six==1.17.0\n'), pip).tag, a.tag);
    assert.notEqual(builtImageName('sha256:2', 'base:1', additions('six==1.16.0\n'), pip).tag, a.tag);
    assert.match(a.tag, /^airflow-runtime-built:[0-9a-f]{24}$/);
    assert.doesNotMatch(a.label, /secret/);
  });
});

describe('pip\'s failure at its line', () => {
  it('a requirement that does not exist, by its name', () => {
    const tail = 'ERROR: Could not find a version that satisfies the requirement nopkg==1.0 (from versions: none)\nERROR: No matching distribution found for nopkg==1.0\n';
    const error = requirementFailure(tail, additions('six\n\n# x\nnopkg==1.0\n'), {});
    assert.equal(error.code, 'image-build-failed');
    assert.deepEqual(error.problems?.map((p) => [p.file, p.start.line]), [['/ws/requirements.txt', 4]]);
    assert.match(error.message, /^\/ws\/requirements\.txt:4: error: pip: Could not find a version that satisfies the requirement nopkg==1\.0/);
  });

  it('a line pip names, mapped through the build\'s file of one requirement per line', () => {
    const tail = 'ERROR: Invalid requirement: \'x y\' (from line 2 of /airflow-runtime-build/requirements.txt)\n';
    assert.deepEqual(requirementFailure(tail, additions('six\n\n\nx y\n'), {}).problems?.map((p) => p.start.line), [4]);
  });

  it('a requirement that would change Airflow\'s version, at its line, saying so', () => {
    const tail = [
      'ERROR: Cannot install apache-airflow==2.11.2 because these package versions have conflicting dependencies.',
      '', 'The conflict is caused by:', '    The user requested apache-airflow==2.11.2', '    The user requested (constraint) apache-airflow==3.3.2',
      '', 'ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/#dealing-with-dependency-conflicts',
    ].join('\n');
    const error = requirementFailure(tail, additions('six\napache-airflow==2.11.2\n'), {});
    assert.deepEqual(error.problems?.map((p) => p.start.line), [2]);
    assert.match(error.message, /"apache-airflow==2\.11\.2" would change Airflow's version, which the runtime holds at the base image's \(3\.3\.2\)/);
  });

  it('an index whose TLS certificate pip could not verify says so, at the requirement, not "no version"', () => {
    const tail = [
      'WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after connection broken by \'SSLError(SSLCertVerificationError(1, \'[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate chain (_ssl.c:992)\'))\': /simple/inflection/',
      'Could not fetch URL https://pypi.org/simple/inflection/: There was a problem confirming the ssl certificate: HTTPSConnectionPool(host=\'pypi.org\', port=443): Max retries exceeded with url: /simple/inflection/ (Caused by SSLError(SSLCertVerificationError(1, \'[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate chain (_ssl.c:992)\'))) - skipping',
      'ERROR: Could not find a version that satisfies the requirement inflection==0.5.1 (from versions: none)',
      'ERROR: No matching distribution found for inflection==0.5.1',
    ].join('\n');
    const bare = requirementFailure(tail, additions('# x\ninflection==0.5.1\n'), {});
    assert.deepEqual(bare.problems?.map((p) => p.start.line), [2]);
    assert.match(bare.message, /^\/ws\/requirements\.txt:2: error: pip: could not verify the TLS certificate of pypi\.org \(self-signed certificate in certificate chain\): the build trusts what the host's pip trusts, and the host's pip names no CA bundle/);
    const given = requirementFailure(tail, additions('inflection==0.5.1\n'), {}, { caFrom: '/etc/ssl/certs/ca.crt' });
    assert.match(given.message, /it was given the CA bundle \/etc\/ssl\/certs\/ca\.crt of the host's pip, which does not hold this CA/);
  });
});

describe('build steps left by a process that is gone', () => {
  const dead = spawnSync('true').pid!;
  const container = (name: string, owner: string) => ({ Id: name, Names: [`/${name}`], State: 'exited', Labels: { [LABEL_BUILD_STEP]: owner } });
  const user = ME.user.replace(/[^A-Za-z0-9_.-]/g, '_');
  const listed = [
    container(`airflow-runtime-build-${user}-${dead}-a1b2c3`, `${ME.host}:${dead}`),
    // a container of a built image: it inherited the label from the commit, and its name is not a build step's
    container('quirky_turing', `${ME.host}:${dead}`),
    container(`airflow-runtime-build-${user}-${process.pid}-d4e5f6`, ownerId()),
    container(`airflow-runtime-build-someone_else-${dead}-0a0b0c`, `${ME.host}:${dead}`),
    container(`airflow-runtime-build-${user}-${dead}-0d0e0f`, `another-machine:${dead}`),
  ];
  const docker = { listContainers: async () => listed } as unknown as Docker;

  it('are this user\'s build containers on this machine whose process is dead, found by name, not by label alone', async () => {
    assert.deepEqual((await leftoverBuildSteps(docker, false)).map((step) => step.id), [`airflow-runtime-build-${user}-${dead}-a1b2c3`]);
    const [step] = await leftoverBuildSteps(docker, false);
    assert.equal(step.what, `build container airflow-runtime-build-${user}-${dead}-a1b2c3 (exited, of process ${ME.host}:${dead}, gone)`);
  });

  it('with `all`, every build container of ours, never a container of a built image', async () => {
    assert.deepEqual((await leftoverBuildSteps(docker, true)).map((step) => step.id).sort(), listed.filter((c) => c.Id.startsWith('airflow-runtime-build-')).map((c) => c.Id).sort());
  });
});
