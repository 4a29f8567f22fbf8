import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** Finds a command on PATH, as a shell would. */
export function which(command: string, searchPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}
