/** The CLI's text lines for parse problems: the editor's problems, and a helper that fails for several DAG files once, with its importers. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseProblemLines } from '../../src/cli/parse';
import type { ParseResult } from '../../src/core/harness/parseResult';
import { parseProblems } from '../../src/core/project/parseProblems';

const failing = (dagFile: string, importLine: number): ParseResult => ({
  format: 'airflow-runtime/parse-result@1', file: dagFile, airflowVersion: '2.11.2', pythonVersion: '3.11', durationMs: 1, dags: [], warnings: [],
  importErrors: [{ file: '/ws/include/db.py', line: 38, column: 19, message: "KeyError: 'Variable PGHOST does not exist'", related: [{ file: dagFile, line: importLine, message: 'imported here' }] }],
});

it('says a failing helper once at its line, naming its importers, then each importer at its import line', () => {
  const outcomes = [['/ws/dags/a.py', 3], ['/ws/dags/b.py', 4]].map(([file, line]) => ({ file: file as string, found: parseProblems(file as string, failing(file as string, line as number)) }));
  assert.deepEqual(parseProblemLines(outcomes, '/ws'), [
    "include/db.py:38:19: error: KeyError: 'Variable PGHOST does not exist' (imported by dags/a.py:3, dags/b.py:4)",
    'dags/a.py:3:1: error: the import of include/db.py failed (above)',
    'dags/b.py:4:1: error: the import of include/db.py failed (above)',
  ]);
});

it('says every problem the editor shows: a parse stopped by timeouts.parse at the line that was running, and the timeout', () => {
  const dagFile = '/ws/dags/slow.py';
  const timedOut: ParseResult = {
    format: 'airflow-runtime/parse-result@1', file: dagFile, airflowVersion: '3.3.2', pythonVersion: '3.12', durationMs: 2000, dags: [], warnings: [], timedOut: true,
    importErrors: [{ file: dagFile, line: 3, column: 1, message: 'TimeoutError: parsing did not finish within 2s (it was running line 3 of slow.py)' }],
  };
  const found = parseProblems(dagFile, timedOut);
  assert.deepEqual(parseProblemLines([{ file: dagFile, found }], '/ws'), [
    'dags/slow.py:3:1: error: TimeoutError: parsing did not finish within 2s (it was running line 3 of slow.py)',
    'dags/slow.py:1:1: error: parsing this DAG file did not finish within timeouts.parse: it was stopped (look for slow top-level code)',
  ]);
  assert.deepEqual(found.map((p) => p.code), ['import-error', 'parse-timeout'], 'the editor\'s problems, one line each');
});
