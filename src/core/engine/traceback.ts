/** Python tracebacks in harness output, read for people: the exception, and the frames that are not ours. */

export interface TracebackFrame {
  file: string;
  /** 1-based. */
  line: number;
  /** The function (`<module>` at a file's top level). */
  name: string;
}

export interface PythonException {
  /** `RuntimeError: the feed is empty`, with the lines that follow it. */
  message: string;
  /** Outermost first, as Python prints them; the harness's own frames left out. */
  frames: TracebackFrame[];
}

const TRACEBACK_START = 'Traceback (most recent call last)';
const FRAME = /^\s*(?:\S.*\s)?File "([^"]+)", line (\d+), in (.+?)\s*$/;
/** After an exception's message: a blank line, a log line (`[2024-...`, `2024-...`), the harness's own words. */
const ENDS_MESSAGE = /^\s*$|^\[?\d{4}-\d\d-\d\d|^airflow-runtime/;
/** Frames of the harness: how a task is started, not where it failed. */
const HARNESS_PATH = /[/\\]airflow_runtime_harness[/\\]/;

export function isHarnessFrame(file: string): boolean {
  return HARNESS_PATH.test(file);
}

/** The last traceback in these lines: the exception a task (or a parse) ended with. */
export function lastException(lines: readonly string[]): PythonException | undefined {
  const start = lines.map((line) => line.includes(TRACEBACK_START)).lastIndexOf(true);
  if (start < 0) return undefined;
  const frames: TracebackFrame[] = [];
  const message: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const frame = FRAME.exec(line);
    if (frame) {
      if (message.length) break; // a frame after the message: another block, not ours
      if (!isHarnessFrame(frame[1])) frames.push({ file: frame[1], line: Number(frame[2]), name: frame[3] });
      continue;
    }
    if (!message.length && (/^\s/.test(line) || line.trim() === '' || /^\s*[~^]+\s*$/.test(line))) continue; // source lines, carets
    if (message.length && ENDS_MESSAGE.test(line)) break;
    message.push(line.trimEnd());
    if (message.length >= 20) break;
  }
  return message.length ? { message: message.join('\n'), frames } : undefined;
}

/** A traceback as text, without the harness's own frames (each is a `File` line and its source line). */
export function withoutHarnessFrames(traceback: string): string {
  const lines = traceback.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const frame = FRAME.exec(lines[i]);
    if (frame && isHarnessFrame(frame[1])) {
      // skip its source line and caret lines too
      while (i + 1 < lines.length && !FRAME.exec(lines[i + 1]) && /^\s{4,}/.test(lines[i + 1])) i++;
      continue;
    }
    out.push(lines[i]);
  }
  return out.join('\n');
}
