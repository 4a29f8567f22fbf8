import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RenderedFields } from '../../src/core/engine/renderedFields';
import { harnessRunArgs } from '../../src/core/engine/types';
import { logicalDateProblem, today } from '../../src/core/engine/runInputs';
import { renderedDocument, renderedText, templateFailureMessage } from '../../src/core/project/renderedTemplate';
import type { EffectiveRuntime } from '../../src/core/runtime/resolve';

const subject = { dagFile: '/ws/dags/etl.py', dagId: 'etl', taskId: 'extract', date: '2024-01-01' };

describe('rendered templates', () => {
  it('joins the pieces of each field, in the order the harness told them', () => {
    const fields = new RenderedFields();
    fields.take({ event: 'rendered', field: 'bash_command', text: 'echo ', last: false, renderer: 'bash', pythonType: 'str' });
    fields.take({ event: 'task', taskId: 'x', state: 'running' });
    fields.take({ event: 'rendered', field: 'bash_command', text: '2024-01-01', last: true, renderer: 'bash', pythonType: 'str' });
    fields.take({ event: 'rendered', field: 'env', text: "{'A': '1'}", last: true, renderer: null, pythonType: 'dict' });
    assert.deepEqual(fields.outcome(0, 5, 'x'), { exitCode: 0, durationMs: 5, fields: [
      { name: 'bash_command', value: 'echo 2024-01-01', renderer: 'bash', pythonType: 'str' },
      { name: 'env', value: "{'A': '1'}", renderer: undefined, pythonType: 'dict' },
    ] });
  });

  it('a failed template is the outcome of exit 1; an exit that told nothing is the harness failing', () => {
    const failed = new RenderedFields();
    failed.take({ event: 'render-failed', field: 'sql', template: 'SELECT {{ x }}', message: "UndefinedError: 'x' is undefined" });
    assert.deepEqual(failed.outcome(1, 5, 'x').failure, { field: 'sql', template: 'SELECT {{ x }}', message: "UndefinedError: 'x' is undefined" });
    assert.throws(() => new RenderedFields().outcome(1, 5, 'the templates of etl.extract'), /the templates of etl\.extract: the harness ended \(exit 1\) without saying which template failed/);
    const cut = new RenderedFields();
    cut.take({ event: 'rendered', field: 'sql', text: 'SELECT', last: false });
    assert.throws(() => cut.outcome(0, 5, 'x'), /without every field/);
  });

  it('asks the harness for the task, date and map index', () => {
    const request = { ...subject, runtime: {} as EffectiveRuntime, mapIndex: 2 };
    assert.deepEqual(harnessRunArgs({ verb: 'render', request }, '/opt/airflow/dags/etl.py', '/opt/airflow/dags'),
      ['render', '--file', '/opt/airflow/dags/etl.py', '--dags-folder', '/opt/airflow/dags', '--dag-id', 'etl', '--date', '2024-01-01', '--task-id', 'extract', '--map-index', '2']);
  });

  it('a logical date is a real day written YYYY-MM-DD', () => {
    assert.equal(logicalDateProblem('2024-02-29'), undefined);
    assert.match(logicalDateProblem('2023-02-29') ?? '', /not a day of the calendar/);
    assert.match(logicalDateProblem('1/2/2024') ?? '', /YYYY-MM-DD/);
    assert.equal(today(new Date(2024, 0, 5, 23, 59)), '2024-01-05');
  });

  it('the document has a heading per field and its value in a code block of its language', () => {
    const doc = renderedDocument({ ...subject, mapIndex: 1 }, { exitCode: 0, durationMs: 1, fields: [
      { name: 'bash_command', value: 'echo ```quoted```', renderer: 'bash' },
      { name: 'env', value: 'None', pythonType: 'NoneType' },
    ] }, 'apache/airflow:2.11.2');
    assert.equal(doc, [
      '# etl.extract[1]: rendered templates', '',
      'Logical date 2024-01-01, map index 1, rendered in apache/airflow:2.11.2 as `airflow tasks render` does.', '',
      '## bash_command', '', '````bash', 'echo ```quoted```', '````', '',
      '## env', '', '```text', 'None', '```', '',
    ].join('\n'));
  });

  it('the terminal shows a header line per field, and a failure names the field and its template', () => {
    assert.deepEqual(renderedText({ exitCode: 0, durationMs: 1, fields: [{ name: 'sql', value: 'SELECT 1', renderer: 'sql' }, { name: 'params', value: '{}' }] }),
      ['# sql (sql)', 'SELECT 1', '', '# params', '{}']);
    assert.equal(templateFailureMessage(subject, { field: 'sql', template: 'SELECT {{ x }', message: "TemplateSyntaxError: unexpected '}'" }),
      "etl.extract: the template of field 'sql' did not render: TemplateSyntaxError: unexpected '}'\n  template: SELECT {{ x }");
  });
});
