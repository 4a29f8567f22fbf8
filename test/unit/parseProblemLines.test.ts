/** The CLI's text lines for parse problems: a helper that fails for several DAG files is said once, with its importers. */
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
