import * as path from 'node:path';
import { type RequirementLine, requirementLines } from '../runtime/requirements';
import type { RequirementsSource } from '../runtime/requirementsPlace';
import { EngineError } from './errors';

/**
 * A runtime's `requirements` list as both engines install it: its local paths read against the folder of the
 * runtime file that holds the list, as the runtime file's checks read them (the host-access rule). Where that file
 * is unknown, a local path is refused, never read against another folder.
 */
export function requirementsListLines(list: readonly string[], runtime: RequirementsSource | undefined): { lines: RequirementLine[]; folder?: string } {
  const source = runtime?.sources.requirements;
  const folder = source?.kind === 'file' ? path.dirname(source.file) : undefined;
  const lines = requirementLines(list, folder ?? '/');
  const local = lines.find((line) => line.localPath);
  if (local && !folder) {
    throw new EngineError('bad-runtime', `the requirement "${local.text}" names a local path, and the runtime file of its list is not known here`,
      'name it in a requirements file beside the runtime file (requirements: requirements.txt)');
  }
  return { lines, folder };
}
