/** The embedded default's pure parts: which Airflow a runtime declares, and when Docker hands a runtime to the local emulator. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EmbeddedDefaultEngine, imageUnavailableCause, localFallbackOf } from '../../src/core/engine/embeddedDefault';
import { EngineError } from '../../src/core/engine/errors';
import type { ParseResult } from '../../src/core/harness/parseResult';
import type { Engine, ParseRequest } from '../../src/core/engine/types';
import { fullVersion } from '../../src/core/engine/local/interpreter';
import { declaredAirflowOf } from '../../src/core/runtime/declaredAirflow';
import type { EffectiveRuntime } from '../../src/core/runtime/resolve';
import type { RuntimeValues } from '../../src/core/runtime/values';

describe('the Airflow a runtime declares', () => {
  const of = (image: string) => declaredAirflowOf({ image })?.version;
  it('is read from an Airflow image tag, with the Python the tag names', () => {
    assert.deepEqual(declaredAirflowOf({ image: 'apache/airflow:2.11.2' }), { version: '2.11.2', source: 'the tag of apache/airflow:2.11.2' });
    assert.deepEqual(declaredAirflowOf({ image: 'apache/airflow:slim-3.3.2-python3.12' }), { version: '3.3.2', python: '3.12', source: 'the tag of apache/airflow:slim-3.3.2-python3.12' });
    assert.equal(of('registry.example.com:5000/team/airflow-runtime-test/airflow:3.1.8'), '3.1.8');
    assert.equal(of('airflow-runtime-test/airflow:2.11.2@sha256:' + 'a'.repeat(64)), '2.11.2');
  });

  it('is read from an Astro Runtime tag', () => {
    assert.equal(of('quay.io/astronomer/astro-runtime:12.1.0'), '2.10');
    assert.equal(of('quay.io/astronomer/astro-runtime:3.0-1'), '3.0');
  });

  it('is nothing for tags that say no version, or images that are not Airflow', () => {
    for (const image of ['apache/airflow:latest', 'team/runtime:stable', 'apache/airflow:2024.06', 'python:3.11.2', 'team/airflow:1a2b3c4']) {
      assert.equal(of(image), undefined, image);
    }
  });

  it('is the default image\'s when no runtime file names one, and a build\'s tag says nothing', () => {
    assert.equal(declaredAirflowOf({})?.version, '2.11.2');
    assert.equal(declaredAirflowOf({ image: 'apache/airflow:3.3.2', build: { context: '/ws' } }), undefined);
  });

  it('falls back to the apache-airflow pin of local.requirements', () => {
    const values: RuntimeValues = { image: 'team/runtime:stable', local: { requirements: '/ws/req.txt' } };
    assert.equal(declaredAirflowOf(values, () => 'pandas==2.2\napache-airflow[celery]==3.3.2\n')?.version, '3.3.2');
    assert.equal(declaredAirflowOf(values, () => 'apache-airflow>=2\n'), undefined);
  });
});

describe('the Airflow version a declared minor installs', () => {
  it('is the newest patch we ship pins for, else the minor\'s first release; a full version stays', () => {
    assert.equal(fullVersion('3.0'), '3.0.6');
    assert.equal(fullVersion('2.10'), '2.10.5');
    assert.equal(fullVersion('2.7'), '2.7.0');
    assert.equal(fullVersion('2.11.1'), '2.11.1');
  });
});

describe("Docker's reasons an image cannot be had, for a person", () => {
  it('says the cause, not the engine\'s sentence', () => {
    assert.equal(imageUnavailableCause('cannot pull apache/airflow:2.11.2: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host'), 'no registry can be reached from here');
    assert.equal(imageUnavailableCause('cannot pull team/x:1: pull access denied for team/x, repository does not exist or may require docker login'), 'the registry has no such image');
    assert.equal(imageUnavailableCause('image x is not present and the runtime says pull: never'), 'it is not on this engine and the runtime says pull: never');
  });
});

const runtime = (values: RuntimeValues): EffectiveRuntime => ({ values } as unknown as EffectiveRuntime);
const result = (detail: string): ParseResult => ({ file: '/ws/dags/a.py', dags: [], importErrors: [], warnings: [], durationMs: 1, engine: { kind: 'local', detail, totalMs: 1 } } as unknown as ParseResult);

function fakeEngine(kind: 'docker' | 'local', parse: (request: ParseRequest) => Promise<ParseResult>): Engine & { calls: number } {
  const engine = {
    kind, calls: 0, describe: () => kind,
    parse: (request: ParseRequest) => { engine.calls++; return parse(request); },
    run: () => Promise.reject(new Error('not used')), testDag: () => Promise.reject(new Error('not used')), render: () => Promise.reject(new Error('not used')),
    retireWarmRuntimes: () => 0, dispose: async () => undefined,
  };
  return engine;
}

const SANDBOXED = () => ({ available: true, describe: 'sandboxed with bubblewrap' });

describe('the embedded default engine', () => {
  const noRegistry = () => Promise.reject(new EngineError('image-pull-failed', 'cannot pull apache/airflow:2.11.2: dial tcp: lookup registry-1.docker.io: no such host'));

  it('runs a runtime whose image cannot be pulled on the local emulator, says why once per request, and tries the registry once a minute', async () => {
    const docker = fakeEngine('docker', noRegistry);
    const local = fakeEngine('local', async () => result('a local Airflow 2.11.2'));
    const engine = new EmbeddedDefaultEngine(docker, () => local, SANDBOXED);
    const notices: string[] = [];
    for (let i = 0; i < 3; i++) {
      const parsed = await engine.parse({ dagFile: '/ws/dags/a.py', runtime: runtime({ image: 'apache/airflow:2.11.2' }), onNotice: (m) => notices.push(m) });
      assert.equal(parsed.engine?.kind, 'local');
      assert.match(parsed.engine?.detail ?? '', /^embedded default: apache\/airflow:2\.11\.2 cannot be had here \(no registry can be reached from here\): using a local Airflow 2\.11\.2; /);
    }
    assert.equal(docker.calls, 1, 'the registry is asked once, not once per file');
    assert.equal(local.calls, 3);
    assert.equal(notices.length, 3);
  });

  it('keeps Docker\'s error, with what to do, for a runtime the emulator cannot run, and never falls back on other errors', async () => {
    const engine = new EmbeddedDefaultEngine(fakeEngine('docker', () => Promise.reject(new EngineError('image-pull-failed', 'cannot pull team/runtime:stable: pull access denied'))), () => fakeEngine('local', async () => result('x')), SANDBOXED);
    await assert.rejects(engine.parse({ dagFile: '/ws/a.py', runtime: runtime({ image: 'team/runtime:stable' }) }),
      (error: EngineError) => error.code === 'image-pull-failed' && /team\/runtime:stable cannot be had here: the registry has no such image/.test(error.message) && /local\.requirements/.test(error.hint ?? ''));
    const built = new EmbeddedDefaultEngine(fakeEngine('docker', () => Promise.reject(new EngineError('image-build-failed', 'building x failed'))), () => fakeEngine('local', async () => result('x')), SANDBOXED);
    await assert.rejects(built.parse({ dagFile: '/ws/a.py', runtime: runtime({ image: 'apache/airflow:2.11.2' }) }), (error: EngineError) => error.code === 'image-build-failed');
  });

  it('is not there where the local emulator would run without a sandbox: a runtime file cannot move DAG code out of its container', async () => {
    const local = fakeEngine('local', async () => result('x'));
    const engine = new EmbeddedDefaultEngine(fakeEngine('docker', noRegistry), () => local, () => ({ available: false, describe: 'no sandbox: bubblewrap is not installed' }));
    await assert.rejects(engine.parse({ dagFile: '/ws/a.py', runtime: runtime({ image: 'apache/airflow:2.11.2' }) }),
      (error: EngineError) => error.code === 'image-pull-failed' && /without a sandbox on this machine/.test(error.message) && /install bubblewrap/.test(error.hint ?? ''));
    assert.equal(local.calls, 0);
    assert.match(engine.describe(), /no embedded default here \(no sandbox/);
  });

  it('knows which runtimes the emulator can run', () => {
    assert.equal(localFallbackOf(runtime({ image: 'team/runtime:stable' })), undefined);
    assert.equal(localFallbackOf(runtime({ image: 'team/runtime:stable', local: { python: '/venv/bin/python' } })), 'local.python /venv/bin/python');
    assert.equal(localFallbackOf(runtime({ image: 'apache/airflow:3.3.2' })), 'a local Airflow 3.3.2');
  });
});
