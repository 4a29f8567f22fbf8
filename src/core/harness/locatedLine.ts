/**
 * `path:line:column: error: message`: how the harness says where a DAG file failed to load (and `parse` says its
 * problems), on its output after the engine has mapped the path to the host's. One reader for every face.
 */
export interface LocatedLine {
  file: string;
  line: number;
  column: number;
  severity: 'error' | 'warning';
  message: string;
}

const LOCATED = /^(.+?):(\d+):(\d+): (error|warning): (.*)$/;

export function locatedLineOf(text: string): LocatedLine | undefined {
  const match = LOCATED.exec(text);
  if (!match) return undefined;
  return { file: match[1], line: Number(match[2]), column: Number(match[3]), severity: match[4] as LocatedLine['severity'], message: match[5] };
}
