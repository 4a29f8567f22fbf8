import type { RuntimeFile } from './read';
import type { ValueSource } from './resolve';

/** Where a runtime's `requirements` were said (its sources and files, as the effective runtime has them). */
export interface RequirementsSource {
  sources: Record<string, ValueSource>;
  files?: readonly RuntimeFile[];
}

/**
 * Where a complaint about requirement n goes: line n of the requirements file, or, for a list in a runtime file,
 * the line of its item n there.
 */
export function requirementsPlace(requirementsFile: string | undefined, runtime: RequirementsSource | undefined): { file: string; lineOf: (line: number) => number } {
  if (requirementsFile) return { file: requirementsFile, lineOf: (line) => line };
  const source = runtime?.sources.requirements;
  if (source?.kind !== 'file') return { file: 'requirements', lineOf: (line) => line };
  const runtimeFile = runtime?.files?.find((f) => f.path === source.file);
  return { file: source.file, lineOf: (line) => runtimeFile?.locations.get(`requirements[${line - 1}]`)?.value.start.line ?? source.line };
}
