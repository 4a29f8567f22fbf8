/** The quick fix for a ModuleNotFoundError adds a requirement only for a name pip would install the module from. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { distributionToAdd, missingModuleName, typoOf } from '../../src/vscode/missingModule';

const none = () => false;

describe('the requirement for a missing module', () => {
  it('is the module Python did not find, whole', () => {
    assert.equal(missingModuleName("ModuleNotFoundError: No module named 'airflow.providers.amazon'"), 'airflow.providers.amazon');
    assert.equal(missingModuleName('ValueError: nope'), undefined);
  });

  it('is the distribution that provides it where that is known', () => {
    assert.deepEqual(distributionToAdd('yaml', none), { distribution: 'PyYAML', known: true });
    assert.deepEqual(distributionToAdd('sklearn.linear_model', none), { distribution: 'scikit-learn', known: true });
    assert.deepEqual(distributionToAdd('airflow.providers.amazon', none), { distribution: 'apache-airflow-providers-amazon', known: true });
    assert.deepEqual(distributionToAdd('airflow.providers.cncf.kubernetes', none), { distribution: 'apache-airflow-providers-cncf-kubernetes', known: true });
    assert.deepEqual(distributionToAdd('google.cloud.bigquery', none), { distribution: 'google-cloud-bigquery', known: true });
  });

  it("is the module's own name when that could be a distribution's", () => {
    assert.deepEqual(distributionToAdd('pandas', none), { distribution: 'pandas', known: false });
    assert.deepEqual(distributionToAdd('pandas_gbq', none), { distribution: 'pandas_gbq', known: false });
  });

  it('is nothing for a typo of a module everyone imports (or the requirements name), nor for a name we cannot split', () => {
    assert.equal(distributionToAdd('pandsa', none), undefined);
    assert.equal(distributionToAdd('reqeusts', none), undefined);
    assert.equal(distributionToAdd('request', none), undefined);
    assert.equal(typoOf('numpyy', ['numpy']), 'numpy');
    assert.equal(distributionToAdd('acme_utilz', none, ['acme-utils']), undefined, 'one slip from a name the requirements file has');
    assert.equal(distributionToAdd('airflow', none), undefined, 'Airflow is the runtime, not a requirement');
    assert.equal(distributionToAdd('airflow.providers.apache', none), undefined, 'which apache provider?');
    assert.equal(distributionToAdd('google', none), undefined);
    assert.equal(distributionToAdd('google.cloud', none), undefined);
  });

  it("is nothing for the project's own module: that is a path to fix, not a package", () => {
    assert.equal(distributionToAdd('helpers.sql', (top) => top === 'helpers'), undefined);
  });
});
