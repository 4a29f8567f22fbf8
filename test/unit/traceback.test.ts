/** A task's failure, read from its log as Airflow 2 and 3 print it (captured from real runs). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { lastException, withoutHarnessFrames } from '../../src/core/engine/traceback';

const fixture = (name: string) => readFileSync(path.join(__dirname, 'fixtures', name), 'utf8').split('\n');

describe('the exception a task ended with', () => {
  for (const version of ['2', '3']) {
    it(`Airflow ${version}: the exception's message and its frames, the harness's own left out`, () => {
      const found = lastException(fixture(`task-failure-airflow${version}.log`));
      assert.ok(found);
      assert.equal(found.message, 'ValueError: the feed is empty');
      assert.deepEqual(found.frames.slice(-2), [
        { file: '/ws/dags/fails.py', line: 12, name: 'broken_step' },
        { file: '/ws/dags/fails.py', line: 6, name: 'helper' },
      ]);
      assert.ok(found.frames.length > 5, 'Airflow\'s frames are kept');
      assert.ok(found.frames.every((f) => !f.file.includes('airflow_runtime_harness')));
    });
  }

  it('no traceback, no exception', () => {
    assert.equal(lastException(['echo about to fail', 'exit 3']), undefined);
  });

  it('a traceback as text loses the harness frames and their source lines, nothing else', () => {
    const text = [
      'Traceback (most recent call last):',
      '  File "/opt/airflow-runtime/harness/airflow_runtime_harness/parse.py", line 10, in run',
      '    exec(code)',
      '    ^^^^^^^^^^',
      '  File "/ws/dags/a.py", line 3, in <module>',
      '    import pandas',
      "ModuleNotFoundError: No module named 'pandas'",
    ].join('\n');
    assert.equal(withoutHarnessFrames(text), [
      'Traceback (most recent call last):', '  File "/ws/dags/a.py", line 3, in <module>', '    import pandas', "ModuleNotFoundError: No module named 'pandas'",
    ].join('\n'));
  });
});
