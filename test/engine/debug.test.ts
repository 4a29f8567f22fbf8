/**
 * `run --debug` through the built CLI, as another editor (PyCharm, neovim's DAP) would use it: a DAP client
 * attaches to 127.0.0.1, sets a breakpoint by host path with no path mapping of its own, stops there, reads a
 * local variable and lets the task finish; both engines, Airflow 2 and 3. Nothing of the run is left after.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { stopAtBreakpoint } from './dap';
import { cli, dockerProblem, image, needs, ourContainers, scratchWorkspace, venvPython, venvProblem, VERSIONS } from './support';

const DAG = [
  'from datetime import datetime',
  'from airflow.decorators import dag, task',
  '',
  '@dag(schedule=None, start_date=datetime(2024, 1, 1))',
  'def debugged():',
  '    @task',
  '    def compute():',
  '        answer = 6 * 7',
  '        print("ANSWER", answer)',
  '        return answer',
  '',
  '    compute()',
  '',
  'debugged()',
  '',
].join('\n');
const BREAKPOINT_LINE = 9; // print("ANSWER", answer)

for (const version of VERSIONS) {
  describe(`run --debug, Airflow ${version}`, { ...needs(dockerProblem(), venvProblem()), timeout: 600_000 }, () => {
    for (const engine of ['docker', 'local']) {
      it(`${engine}: a DAP client stops at a breakpoint set by host path, reads a local, and the task passes`, async () => {
        const ws = scratchWorkspace('debug', {
          'dags/airflow-runtime.yaml': `image: ${image(version)}\npull: never\nlocal:\n  python: ${venvPython(version)}\n`,
          'dags/debugged.py': DAG,
        });
        const file = path.join(ws, 'dags', 'debugged.py');
        let announced: (port: number) => void = () => undefined;
        const ready = new Promise<number>((resolve) => { announced = resolve; });
        const running = cli(['run', 'dags/debugged.py', 'debugged', 'compute', '--engine', engine, '--debug'], {
          cwd: ws,
          onStderr: (soFar) => {
            const port = /waiting for a client on 127\.0\.0\.1:(\d+)/.exec(soFar)?.[1];
            if (port) announced(Number(port));
          },
        });
        const port = await Promise.race([ready, running.then((r) => { throw new Error(`the run ended before debugpy listened: ${r.stderr}`); })]);
        const stop = await stopAtBreakpoint(port, file, BREAKPOINT_LINE, 'answer');
        assert.deepEqual(stop, { file, line: BREAKPOINT_LINE, value: '42' });
        const { code, stdout, stderr } = await running;
        assert.equal(code, 0, stderr);
        assert.match(stdout + stderr, /ANSWER 42/);
        assert.match(stderr, /"type":"debugpy","request":"attach","connect":\{"host":"127\.0\.0\.1","port":\d+\}/);
        assert.deepEqual(ourContainers(file), [], 'no container of the run is left');
      });
    }
  });
}
