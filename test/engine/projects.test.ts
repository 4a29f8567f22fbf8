/**
 * Projects shaped like real ones (test/projects): an Astro project and an official-image layout, parsed by the
 * built CLI with the Docker engine and the local runtime emulator, from three different current folders.
 * Every way gives the same results; the files found, DAG ids, task ids, edges and import-error files agree
 * with Airflow's own discovery and DagBag in the same interpreter (dagbag_reference.py); lines are as below.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import Ajv from 'ajv';
import { cli, dockerProblem, image, needs, ourContainers, REPO, scratchWorkspace, venvPython, venvProblem, VERSIONS } from './support';

const PROJECTS = path.join(REPO, 'test/projects');

interface Task { taskId: string; file: string; line: number; definitionLine?: number | null; upstream: string[]; downstream: string[]; taskGroup: string | null }
interface Result {
  file: string;
  dags: { dagId: string; line: number; tasks: Task[] }[];
  importErrors: { file: string; line: number; column: number; message: string; related?: { file: string; line: number }[] }[];
  warnings: { file: string; line: number; category: string; message: string }[];
  error?: { message: string };
}

interface Project {
  name: 'astro' | 'official';
  /** The runtime file at the project root; {image} and {python} are filled in. */
  runtimeFile: string;
  /** What an image of that layout puts in the environment, for Airflow's own DagBag. */
  referenceEnv(root: string): Record<string, string>;
  /** Relative file -> dag id -> task id -> [relative file of the task, line, definition line or null]. */
  lines: Record<string, Record<string, Record<string, [string, number, number | null]>>>;
  /** Relative file -> [relative file, line, a piece of the message, related line or null]. */
  errors: Record<string, [string, number, string, number | null][]>;
  /** Relative file -> [line, category] of warnings of ours (not Airflow's internals). */
  warnings?: Record<string, [number, string][]>;
  major?: 3;
}

const ASTRO: Project = {
  name: 'astro',
  runtimeFile: 'image: {image}\npull: never\ndagsFolder: /usr/local/airflow/dags\nlocal:\n  python: {python}\nairflowConfig:\n  core:\n    dag_ignore_file_syntax: glob\n',
  referenceEnv: (root) => ({ PYTHONPATH: `${root}:${root}/plugins`, AIRFLOW__CORE__PLUGINS_FOLDER: `${root}/plugins`, AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX: 'glob' }),
  lines: {
    'dags/_compat.py': {},
    'dags/etl.py': {
      etl: {
        extract: ['include/helpers.py', 15, null],
        greet: ['dags/etl.py', 26, null],
        local: ['dags/etl.py', 27, null],
        shout_a: ['dags/etl.py', 31, 19],
        shout_b: ['dags/etl.py', 32, 19],
        shout_c: ['dags/etl.py', 33, 19],
        'finish.done_x': ['dags/etl.py', 38, null],
        'finish.done_y': ['dags/etl.py', 38, null],
      },
    },
    'dags/sub/kept.py': { kept: { step_0: ['include/helpers.py', 21, null], step_1: ['include/helpers.py', 21, null] } },
  },
  errors: {},
};

const OFFICIAL: Project = {
  name: 'official',
  major: 3,
  runtimeFile: 'image: {image}\npull: never\nlocal:\n  python: {python}\nairflowConfig:\n  core:\n    dag_ignore_file_syntax: regexp\n',
  referenceEnv: (root) => ({ PYTHONPATH: `${root}/plugins:${root}/config`, AIRFLOW__CORE__PLUGINS_FOLDER: `${root}/plugins`, AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX: 'regexp' }),
  lines: {
    'dags/assets_only.py': { raw_orders: { raw_orders: ['dags/assets_only.py', 5, null] }, clean_orders: { clean_orders: ['dags/assets_only.py', 10, null] } },
    'dags/notify_dag.py': { notify: { post: ['dags/notify_dag.py', 10, null] } },
    'dags/unstable.py': { unstable: { only: ['dags/unstable.py', 7, null] } },
    'dags/cycle.py': {},
    'dags/bad_serialize.py': {},
  },
  errors: {
    'dags/cycle.py': [['dags/cycle.py', 10, 'the edge b >> a closes the cycle', 6]],
    'dags/bad_serialize.py': [['dags/bad_serialize.py', 12, 'Failed to serialize DAG', 11]],
  },
  warnings: { 'dags/unstable.py': [[6, 'RuntimeVaryingValueWarning']] },
};

const workspaces: string[] = [];

function projectWorkspace(project: Project, version: string): string {
  const ws = scratchWorkspace(`project-${project.name}-${version}`);
  cpSync(path.join(PROJECTS, project.name), ws, { recursive: true, filter: (source) => !source.includes('__pycache__') });
  writeFileSync(path.join(ws, 'airflow-runtime.yaml'), project.runtimeFile.replace('{image}', image(version)).replace('{python}', venvPython(version)));
  workspaces.push(ws);
  return ws;
}

/** `parse <the project root>` from `cwd`, as a user types it there (the path relative to where they are). */
async function parseFrom(ws: string, cwd: string, engine: 'docker' | 'local'): Promise<Result[]> {
  const target = path.relative(cwd, ws) || '.';
  const { code, stdout, stderr } = await cli(['parse', target, '--engine', engine, '--format', 'json'], { cwd });
  const results = JSON.parse(stdout || '[]') as Result[];
  for (const r of results) assert.ok(!r.error, `${r.file}: ${r.error?.message}\n${stderr}`);
  const failing = results.some((r) => r.importErrors.length > 0);
  assert.equal(code, failing ? 1 : 0, stderr);
  return results.sort((a, b) => a.file.localeCompare(b.file));
}

/**
 * What must not depend on the engine or the current folder: everything of the result but Airflow's own
 * serialized DAG (it keeps the runtime's paths and module names), tracebacks (library paths), timings,
 * the interpreter's patch version and the DAG file's output (Airflow's log lines).
 */
function semantic(results: Result[]) {
  return results.map((r) => ({
    file: r.file,
    dags: r.dags.map(({ serialized: _, ...dag }: Result['dags'][number] & { serialized?: unknown }) => dag),
    // Airflow names a DAG file's module after a hash of its path in the runtime
    importErrors: r.importErrors.map(({ traceback: _, ...e }: Result['importErrors'][number] & { traceback?: string }) => ({ ...e, message: e.message.replace(/unusual_prefix_[0-9a-f]+_/g, 'unusual_prefix_<hash>_') })),
    warnings: r.warnings,
  }));
}

function reference(ws: string, project: Project, version: string) {
  const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'airflow-runtime-reference-')), 'reference.json');
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, AIRFLOW_RUNTIME_CACHE: path.join(os.tmpdir(), 'airflow-runtime-harness-tests') };
  const extra = project.referenceEnv(ws);
  const run = spawnSync(venvPython(version), [path.join(PROJECTS, 'dagbag_reference.py'), out, path.join(ws, 'dags')], {
    cwd: ws, encoding: 'utf8', env: { ...env, ...extra, PYTHONPATH: `${path.join(REPO, 'src/harness')}:${extra.PYTHONPATH}` },
  });
  assert.equal(run.status, 0, run.stderr.slice(-3000));
  const parsed = JSON.parse(readFileSync(out, 'utf8')) as { files: string[]; results: Record<string, { dags: Record<string, Record<string, [string[], string[]]>>; errorFiles: string[] }> };
  rmSync(path.dirname(out), { recursive: true, force: true });
  return parsed;
}

const resultSchema = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(path.join(REPO, 'media/parse-result.schema.json'), 'utf8')));

for (const version of VERSIONS) {
  for (const project of [ASTRO, OFFICIAL]) {
    const major = Number(version.split('.')[0]);
    if (project.major && project.major !== major) continue; // asset-only files and airflow.sdk imports are Airflow 3's
    describe(`the ${project.name} project in Airflow ${version}`, needs(dockerProblem(), venvProblem()), () => {
      const ws = projectWorkspace(project, version);
      const runs: Record<string, Result[]> = {};

      it('parses the same from the project root, from dags/ and from elsewhere, with Docker and locally', async () => {
        const elsewhere = path.join(ws, project.name === 'astro' ? 'include' : 'plugins');
        for (const engine of ['docker', 'local'] as const) {
          for (const cwd of [ws, path.join(ws, 'dags'), elsewhere]) runs[`${engine} from ${path.relative(ws, cwd) || '.'}`] = await parseFrom(ws, cwd, engine);
        }
        const [first, ...others] = Object.entries(runs);
        for (const [how, results] of others) assert.deepEqual(semantic(results), semantic(first[1]), `${how} differs from ${first[0]}`);
        for (const result of first[1]) assert.ok(resultSchema(result), `${result.file}: ${JSON.stringify(resultSchema.errors)}`);
      });

      it("finds the files Airflow finds, with Airflow's DAG ids, tasks, edges and import-error files", () => {
        const ours = runs[Object.keys(runs)[0]];
        assert.ok(ours, 'parsed');
        const airflow = reference(ws, project, version);
        assert.deepEqual(ours.map((r) => r.file), airflow.files, 'the DAG files');
        for (const result of ours) {
          assert.deepEqual({
            dags: Object.fromEntries(result.dags.map((d) => [d.dagId, Object.fromEntries(d.tasks.map((t) => [t.taskId, [t.upstream, t.downstream]]))])),
            errorFiles: [...new Set(result.importErrors.map(() => result.file))],
          }, airflow.results[result.file], result.file);
        }
      });

      it('puts tasks, import errors and warnings at the lines a person would look at', () => {
        const ours = runs[Object.keys(runs)[0]];
        assert.ok(ours, 'parsed');
        const rel = (file: string) => path.relative(ws, file);
        assert.deepEqual(Object.fromEntries(ours.map((r) => [rel(r.file), Object.fromEntries(r.dags.map((d) => [d.dagId,
          Object.fromEntries(d.tasks.map((t) => [t.taskId, [rel(t.file), t.line, t.definitionLine ?? null]]))]))])), project.lines);
        const errors = Object.fromEntries(ours.filter((r) => r.importErrors.length).map((r) => [rel(r.file),
          r.importErrors.map((e, i) => {
            const piece = project.errors[rel(r.file)]?.[i]?.[2] ?? '';
            return [rel(e.file), e.line, e.message.includes(piece) ? piece : e.message, e.related?.[0]?.line ?? null];
          })]));
        assert.deepEqual(errors, project.errors);
        const stable = major === 3 && Number(version.split('.')[1]) >= 2; // the DAG stability check came in 3.2
        const warnings = Object.fromEntries(ours.map((r) => [rel(r.file), r.warnings.filter((w) => w.category === 'RuntimeVaryingValueWarning').map((w) => [w.line, w.category])]).filter(([, w]) => w.length));
        assert.deepEqual(warnings, stable ? project.warnings ?? {} : {});
      });
    });
  }
}

describe('starting the runtime has its own deadline', needs(dockerProblem(), venvProblem()), () => {
  const version = VERSIONS[VERSIONS.length - 1];
  const ws = scratchWorkspace('start-deadline', {
    'dags/quick.py': 'import datetime\nfrom airflow.sdk import DAG\n\nwith DAG("quick", start_date=datetime.datetime(2024, 1, 1), schedule=None):\n    pass\n',
    'dags/airflow-runtime.yaml': `image: ${image(version)}\npull: never\nlocal:\n  python: ${venvPython(version)}\ntimeouts:\n  start: 0.3s\n  parse: 1s\n`,
  });
  workspaces.push(ws);
  for (const engine of ['docker', 'local'] as const) {
    for (const warm of [false, true]) {
      it(`${engine}, ${warm ? 'warm' : 'cold'}: a runtime that does not start in time is an engine problem (exit 2), not the DAG file's`, async () => {
        const { code, stdout, stderr } = await cli(['parse', 'dags/quick.py', '--engine', engine, ...(warm ? [] : ['--cold'])], { cwd: ws });
        assert.equal(code, 2, stdout + stderr);
        assert.match(stderr, /dags\/quick\.py: not parsed: the runtime did not start within 0\.3 s/);
        assert.match(stderr, /what to do: the machine may be busy: raise timeouts\.start/);
        assert.doesNotMatch(stdout, /error: .*TimeoutError/, 'not an import error of the file');
      });
    }
  }
});

after(() => {
  assert.deepEqual(ourContainers(...workspaces), [], 'no container of ours is left');
  for (const ws of workspaces) rmSync(ws, { recursive: true, force: true });
});
