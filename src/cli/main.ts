import { cleanupCommand } from './cleanup';
import { doctorCommand } from './doctor';
import { downCommand } from './down';
import { exportCommand } from './export';
import { mcpCommand } from './mcp';
import { parseCommand } from './parse';
import { renderCommand } from './render';
import { resolveCommand } from './resolve';
import { runCommand } from './run';
import { testDagCommand } from './testDag';
import { upCommand } from './up';
import { upgradeCheckCommand } from './upgradeCheck';
import { EXIT, MAIN_HELP, UsageError } from './usage';
import { validateCommand } from './validate';

type Command = (args: string[], out: (line: string) => void, err: (line: string) => void) => number | Promise<number>;

const COMMANDS: Record<string, Command> = {
  validate: validateCommand,
  resolve: resolveCommand,
  parse: parseCommand,
  run: runCommand,
  'test-dag': testDagCommand,
  render: renderCommand,
  'upgrade-check': upgradeCheckCommand,
  export: exportCommand,
  up: upCommand,
  down: downCommand,
  mcp: mcpCommand,
  doctor: doctorCommand,
  cleanup: cleanupCommand,
};

export async function main(argv: string[]): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const [verb, ...args] = argv;
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    (verb === undefined ? err : out)(MAIN_HELP);
    return verb === undefined ? EXIT.configOrInfra : EXIT.ok;
  }
  const command: Command | undefined = Object.hasOwn(COMMANDS, verb) ? COMMANDS[verb] : undefined;
  try {
    if (!command) throw new UsageError(`unknown command "${verb}"`);
    return await command(args, out, err);
  } catch (error) {
    // parseArgs throws TypeErrors with codes for unknown or malformed flags.
    const code = (error as { code?: string }).code;
    if (error instanceof UsageError || code?.startsWith('ERR_PARSE_ARGS')) {
      err(`airflow-runtime: ${(error as Error).message}`);
      err(command ? `Run "airflow-runtime ${verb} --help" for usage.` : MAIN_HELP);
      return EXIT.configOrInfra;
    }
    err(`airflow-runtime: internal error: ${(error as Error).stack ?? String(error)}`);
    return EXIT.configOrInfra;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
