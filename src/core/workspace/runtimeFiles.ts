import * as path from 'node:path';
import { runtimeFileScope } from '../runtime/names';
import { isUnwalkedFolder, walkFiles } from './walk';

/** Every runtime file below `root`, sorted, skipping hidden folders and dependency folders. */
export function findRuntimeFiles(root: string): string[] {
  const found: string[] = [];
  walkFiles(path.resolve(root), (_folder, name) => !isUnwalkedFolder(name), (file, name) => { if (runtimeFileScope(name)) found.push(file); });
  return found.sort();
}
