/** The engine's images as a person picks from them: Airflow images first, newest Airflow first. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rankImages } from '../../src/core/engine/docker/imageList';

describe('the images of an engine, ranked', () => {
  it('puts Airflow images first (by label or tag), newest version first, then the rest, newest first; drops untagged', () => {
    const ranked = rankImages([
      { RepoTags: ['python:3.11'], Created: 300 },
      { RepoTags: ['<none>:<none>'], Created: 999 },
      { RepoTags: ['airflow-runtime-test/airflow:2.11.2'], Created: 100 },
      { RepoTags: ['team/runtime:stable', 'team/runtime:1'], Labels: { 'org.apache.airflow.version': '3.3.2' }, Created: 50 },
      { RepoTags: ['redis:7'], Created: 400 },
    ]);
    assert.deepEqual(ranked.map((i) => [i.reference, i.airflowVersion]), [
      ['team/runtime:1', '3.3.2'], ['team/runtime:stable', '3.3.2'], ['airflow-runtime-test/airflow:2.11.2', '2.11.2'], ['redis:7', undefined], ['python:3.11', undefined],
    ]);
  });
});
