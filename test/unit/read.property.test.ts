import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { schemaComplaints } from '../../src/core/runtime/schemaComplaints';
import { read } from './helpers';

const VALID = [
  'image: airflow:2.11.2\npull: missing\nenv:\n  A: "1"\n  B: 2\ntimeouts:\n  parse: 30s\n  run: 1h\n',
  'build:\n  context: .\n  dockerfile: Dockerfile\n  args:\n    V: "3"\nresources: {memory: 2g, cpus: 1.5}\n',
  'mounts:\n  - source: .\n    target: /opt/x\n    readOnly: true\nairflowConfig:\n  core:\n    dagbag_import_timeout: 60\nnetwork: none\n',
  'local:\n  python: python3\nenvFile: .env\ndagsFolder: /opt/airflow/dags\n',
];

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'duplicate'; at: number; length: number };

/** Edits that people (and editors mid-keystroke) make: cut, insert, delete, duplicate. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.string(), fc.constantFrom(':', '- ', '  ', '\t', '[', '{', '"', "'", '&a', '*a', '<<: *a', '\n', '#', '!!binary', '---', '%YAML 1.1')) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.nat({ max: 12 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.nat({ max: 40 }) }),
);

function apply(text: string, edits: Mutation[]): string {
  for (const edit of edits) {
    const at = text.length ? edit.at % (text.length + 1) : 0;
    if (edit.kind === 'truncate') text = text.slice(0, at);
    else if (edit.kind === 'insert') text = text.slice(0, at) + edit.text + text.slice(at);
    else if (edit.kind === 'delete') text = text.slice(0, at) + text.slice(at + edit.length);
    else text = text.slice(0, at) + text.slice(at, at + edit.length) + text.slice(at);
  }
  return text;
}

describe('reading mutated runtime files (property)', () => {
  it('never throws, and yields values or problems with positions inside the file', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID), fc.array(mutation, { minLength: 1, maxLength: 5 }), (base, edits) => {
        const text = apply(base, edits as Mutation[]);
        const file = read(text);
        const lines = text.split(/\r\n|\r|\n/).length;
        for (const problem of file.problems) {
          assert.ok(problem.message.length > 0);
          assert.ok(problem.start.line >= 1 && problem.start.line <= lines + 1, `line ${problem.start.line} of ${lines} in ${JSON.stringify(text)}`);
          assert.ok(problem.start.column >= 1);
          assert.ok(problem.end.line > problem.start.line || (problem.end.line === problem.start.line && problem.end.column >= problem.start.column));
        }
        if (file.ignored) assert.ok(file.problems.some((p) => p.severity === 'error'), 'an ignored file says why');
        assert.deepEqual(schemaComplaints(file.values), [], 'what is handed on fits the schema');
      }),
      { numRuns: 3000 },
    );
  });

  it('valid files read without problems', () => {
    for (const text of VALID) {
      const file = read(text, '/ws/dags/airflow-runtime.yaml', { kind: () => 'directory' });
      assert.deepEqual(file.problems.filter((p) => p.code !== 'missing-path'), [], text);
    }
  });
});
