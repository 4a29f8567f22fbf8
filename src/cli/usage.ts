/** A mistake in how the command was called: exit code 2 with a message that says what to do. */
export class UsageError extends Error {
  constructor(message: string, readonly verb?: string) {
    super(message);
  }
}

export const EXIT = { ok: 0, userFailure: 1, configOrInfra: 2 } as const;

export const MAIN_HELP = `airflow-runtime: parse and run Airflow DAG files inside the runtime they really run in.

Usage:
  airflow-runtime parse <path>...               parse DAG files inside their runtime; problems as path:line:col
  airflow-runtime run <dag_file> <dag_id> <task_id>   run one task inside its runtime, log streamed (--debug [PORT])
  airflow-runtime test-dag <dag_file> <dag_id>  run the whole DAG inside its runtime, as dag.test() does
  airflow-runtime render <dag_file> <dag_id> <task_id>   a task's templated fields for a date, as tasks render
  airflow-runtime upgrade-check [PATH...] --to IMAGE   what breaks and what changes when DAG files move to another runtime
  airflow-runtime validate [runtime files...]   check runtime files (all under this folder by default)
  airflow-runtime resolve <dag_file>            show a DAG file's effective runtime and where each value came from
  airflow-runtime export [PATH]                 write the production manifest and deployment commands (--out DIR)
  airflow-runtime up [PATH]                     run a real Airflow 3 of the project here: each task in its runtime's container
  airflow-runtime down [PATH]                   stop and remove it (--volumes: its database and logs too)
  airflow-runtime mcp                           a Model Context Protocol server on stdio: these verbs as tools for coding assistants
  airflow-runtime doctor                        check engines, images and interpreters; say what to fix
  airflow-runtime cleanup [--all] [--dry-run]     remove what we started that nothing uses any more (--images: old built images)

Engines: --engine auto (Docker when reachable, else the local runtime emulator), docker, local.

Exit codes: 0 success; 1 a DAG, task or template failed; 2 usage, configuration or infrastructure error.
Run "airflow-runtime <verb> --help" for a verb's options.`;
