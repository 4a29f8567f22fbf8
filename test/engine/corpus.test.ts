/**
 * The harness corpus (test/harness/corpus) parsed through the built CLI, with the Docker engine (over the
 * socket, and over TCP as a remote engine that gets copies) and the local runtime emulator, in Airflow 2 and 3:
 * exact DAG ids, task ids, edges and lines, and host paths, against test/harness/expected.py.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { cli, dockerProblem, image, needs, ourContainers, REMOTE, remoteProblem, REPO, scratchWorkspace, venvPython, venvProblem, VERSIONS } from './support';

const CORPUS = path.join(REPO, 'test/harness/corpus');

/** Task id -> [line, upstream, downstream, task group, mapped], as expected.py writes them. */
type TaskRow = [number, string[], string[], string | null, boolean];
interface ExpectedFile {
  dags: Record<string, { line: number; schedule: string | null; tags: string[]; owner?: string; tasks: Record<string, TaskRow> }>;
  /** [file relative to the DAG root, line, column or null when not checked, a piece of the message] */
  errors: [string, number, number | null, string][];
  timedOut?: boolean;
}

/** expected.py is the one source of the corpus's expectations: read it through Python, as JSON. */
function expectations(): { EXPECTED: Record<string, ExpectedFile>; VARIABLE_SET: ExpectedFile; HANG: ExpectedFile } {
  const script = 'import json, sys; sys.path.insert(0, sys.argv[1]); import expected as e; print(json.dumps({"EXPECTED": e.EXPECTED, "VARIABLE_SET": e.VARIABLE_SET, "HANG": e.HANG}))';
  const run = spawnSync('python3', ['-c', script, path.join(REPO, 'test/harness')], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout);
}

interface Result {
  format: string;
  file: string;
  airflowVersion: string;
  timedOut?: boolean;
  dags: { dagId: string; file: string; line: number; schedule: string | null; tags: string[]; owner?: string; serialized: unknown;
    tasks: { taskId: string; file: string; line: number; upstream: string[]; downstream: string[]; taskGroup: string | null; mapped: boolean }[] }[];
  importErrors: { file: string; line: number; column: number | null; message: string; traceback?: string }[];
  output?: { bytes: number; truncated: boolean };
  error?: { message: string };
}

/**
 * The parts of a result that expected.py speaks of, shaped like the expectation, so that one deepEqual shows
 * every difference. A message that holds the expected piece is shown as that piece.
 */
function view(result: Result, expected: ExpectedFile) {
  return {
    file: result.file,
    timedOut: result.timedOut ?? false,
    errors: result.importErrors.map((e, i) => {
      const [, , column, piece] = expected.errors[i] ?? [];
      return [e.file, e.line, column === null ? null : e.column, piece !== undefined && e.message.includes(piece) ? piece : e.message, !!e.traceback];
    }),
    dags: Object.fromEntries(result.dags.map((d) => [d.dagId, {
      file: d.file, line: d.line, schedule: d.schedule, tags: d.tags, ...(expected.dags[d.dagId]?.owner !== undefined ? { owner: d.owner } : {}),
      serialized: typeof d.serialized === 'object' && d.serialized !== null && Object.keys(d.serialized).length > 0,
      tasks: Object.fromEntries(d.tasks.map((t) => [t.taskId, [t.line, t.upstream, t.downstream, t.taskGroup, t.mapped, t.file]])),
    }])),
  };
}

function expectedView(expected: ExpectedFile, root: string, name: string) {
  return {
    file: `${root}/${name}`,
    timedOut: expected.timedOut ?? false,
    errors: expected.errors.map(([file, line, column, piece]) => [`${root}/${file}`, line, column, piece, true]),
    dags: Object.fromEntries(Object.entries(expected.dags).map(([dagId, d]) => [dagId, {
      file: `${root}/${name}`, line: d.line, schedule: d.schedule, tags: d.tags, ...(d.owner !== undefined ? { owner: d.owner } : {}),
      serialized: true,
      tasks: Object.fromEntries(Object.entries(d.tasks).map(([taskId, row]) => [taskId, [...row, `${root}/${name}`]])),
    }])),
  };
}

type Engine = 'docker' | 'docker-remote' | 'local';

/**
 * A copy of the corpus as a project's dags/ folder, with a runtime file for one Airflow version (the image for
 * Docker, the venv's interpreter for local). Two more files: hang.py gets a deadline whose harness timeout is
 * 3 s with either engine, and variable_set.py (variable.py again) gets AIRFLOW_VAR_CORPUS_ENV from its runtime file.
 */
function corpusWorkspace(version: string, engine: Engine): string {
  const ws = scratchWorkspace(`corpus-${engine}-${version}`);
  const dags = path.join(ws, 'dags');
  cpSync(CORPUS, dags, { recursive: true, filter: (source) => !source.includes('__pycache__') });
  writeFileSync(path.join(dags, 'airflow-runtime.yaml'),
    `image: ${image(version)}\npull: never\nlocal:\n  python: ${venvPython(version)}\ntimeouts:\n  parse: 90s\n`);
  // timeouts.parse is the DAG file's own budget, cold and warm alike (starting the runtime has its own)
  writeFileSync(path.join(dags, 'hang.airflow-runtime.yaml'), 'timeouts:\n  parse: 3s\n');
  writeFileSync(path.join(dags, 'variable_set.py'), readFileSync(path.join(CORPUS, 'variable.py')));
  writeFileSync(path.join(dags, 'variable_set.airflow-runtime.yaml'), 'env:\n  AIRFLOW_VAR_CORPUS_ENV: prod\n');
  return ws;
}

const { EXPECTED, VARIABLE_SET, HANG } = expectations();
const CASES: Record<string, ExpectedFile> = { ...EXPECTED, 'hang.py': HANG, 'variable_set.py': VARIABLE_SET };
const FILES = Object.keys(CASES).sort();
/**
 * Cold parses (a fresh container or process per file) of the files that exercise the most: errors, env, and
 * a file that hangs (an import error at its line, as warm: the 3 s are the file's, not the container's start).
 */
const COLD = ['classic.py', 'helper_error.py', 'variable_set.py', 'mapping.py', 'hang.py'];
const ENGINES: Engine[] = ['docker', 'docker-remote', 'local'];
const timings: string[] = [];
const workspaces: string[] = [];

const requirements = (engine: Engine) => engine === 'local' ? [venvProblem()] : engine === 'docker' ? [dockerProblem()] : [dockerProblem(), remoteProblem()];

async function parse(ws: string, engine: Engine, files: string[], warm: boolean): Promise<Record<string, Result>> {
  const args = ['parse', ...files.map((f) => `dags/${f}`), '--engine', engine === 'local' ? 'local' : 'docker', '--format', 'json', '--jobs', '2', ...(warm ? [] : ['--cold'])];
  const { code, stdout, stderr, ms } = await cli(args, { cwd: ws, env: engine === 'docker-remote' ? { DOCKER_HOST: REMOTE } : {} });
  timings.push(`${engine} ${warm ? 'warm' : 'cold'} ${path.basename(ws)}: ${files.length} files in ${(ms / 1000).toFixed(1)} s`);
  const results = JSON.parse(stdout || '[]') as Result[];
  for (const r of results) assert.ok(!r.error, `${r.file}: ${r.error?.message}`);
  assert.equal(code, 1, `some corpus files fail to import on purpose (exit 1)\n${stderr}`);
  if (engine === 'docker-remote') assert.match(stderr, /^engine: docker at tcp:\/\/.*remote: DAG files are copied in/m);
  return Object.fromEntries(results.map((r) => [path.relative(path.join(ws, 'dags'), r.file), r]));
}

function checkAll(results: Record<string, Result>, names: string[], ws: string, version: string): void {
  const root = path.join(ws, 'dags');
  assert.deepEqual(Object.keys(results).sort(), [...names].sort());
  for (const name of names) {
    const result = results[name];
    assert.equal(result.format, 'airflow-runtime/parse-result@1');
    assert.equal(result.airflowVersion, version, name);
    assert.deepEqual(view(result, CASES[name]), expectedView(CASES[name], root, name), name);
    for (const e of result.importErrors) assert.ok(!e.traceback?.includes('/opt/airflow/'), `${name}: tracebacks name host paths\n${e.traceback}`);
  }
}

for (const version of VERSIONS) {
  for (const engine of ENGINES) {
    describe(`the harness corpus in Airflow ${version}, ${engine} engine`, needs(...requirements(engine)), () => {
      const ws = corpusWorkspace(version, engine);
      workspaces.push(ws);

      it('warm: every file as expected.py says, with host paths', async () => {
        const results = await parse(ws, engine, FILES, true);
        checkAll(results, FILES, ws, version);
        assert.ok(results['loud.py'].output!.truncated && results['loud.py'].output!.bytes > 5_000_000, 'the loud DAG\'s output is capped');
      });

      if (engine !== 'docker-remote') {
        it('cold: a fresh runtime per file gives the same', async () => {
          checkAll(await parse(ws, engine, COLD, false), COLD, ws, version);
        });
      }
    });
  }
}

after(() => {
  console.log(`corpus timings:\n  ${timings.join('\n  ')}`);
  assert.deepEqual(ourContainers(...workspaces), [], 'no container of ours is left');
  for (const ws of workspaces) rmSync(ws, { recursive: true, force: true });
});
