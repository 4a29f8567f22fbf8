/** uv's failures to install a runtime's requirements into the local venv, at the line of the requirement it blames. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requirementsInstallFailure } from '../../src/core/engine/local/requirementsFailure';
import { requirementLines } from '../../src/core/runtime/requirements';

const lines = (text: string) => requirementLines(text, '/ws');
// uv 0.13's words, as it prints them without a terminal
const notFound = 'error: No solution found when resolving dependencies\n  cause: Because no-such-package was not found in the package registry and you require no-such-package==1.0, we can conclude that your requirements are unsatisfiable.\n';

describe('uv\'s failure at its line', () => {
  it('a requirement that does not exist, found by the name uv blames', () => {
    const error = requirementsInstallFailure(notFound, lines('# x\ninflection==0.5.1\n\nno-such-package==1.0\n'), '/ws/requirements.txt', undefined);
    assert.equal(error?.code, 'venv-build-failed');
    assert.deepEqual(error?.problems?.map((p) => [p.file, p.start.line]), [['/ws/requirements.txt', 4]]);
    assert.equal(error?.message, '/ws/requirements.txt:4: error: uv: Because no-such-package was not found in the package registry and you require no-such-package==1.0, we can conclude that your requirements are unsatisfiable.');
  });

  it('a conflict with Airflow blames the user\'s line, not the Airflow the venv adds', () => {
    const tail = 'error: No solution found when resolving dependencies\n  cause: Because you require apache-airflow==3.3.2 and Six==1.17.0, we can conclude that your requirements are unsatisfiable.\n';
    assert.deepEqual(requirementsInstallFailure(tail, lines('inflection\nsix==1.17.0\n'), '/ws/r.txt', undefined)?.problems?.map((p) => p.start.line), [2]);
    assert.deepEqual(requirementsInstallFailure(tail, lines('inflection\napache-airflow==2.11.2\n'), '/ws/r.txt', undefined)?.problems?.map((p) => p.start.line), [2]);
  });

  it('nothing the user wrote named: undefined (the whole tail is said instead)', () => {
    assert.equal(requirementsInstallFailure(notFound, lines('inflection\n'), '/ws/r.txt', undefined), undefined);
    assert.equal(requirementsInstallFailure('Killed\n', lines('inflection\n'), '/ws/r.txt', undefined), undefined);
  });
});
