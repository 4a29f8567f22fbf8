/**
 * Turns chunks of output into lines, keeping the partial last line for the next chunk. A line with no end
 * in sight (a DAG printing without newlines) is handed on in pieces of `maxLine` characters.
 */
export function lineSplitter(onLine: (line: string) => void, maxLine = 16_384): { push(text: string): void; end(): void } {
  let partial = '';
  return {
    push(text) {
      const lines = (partial + text).split(/\r?\n/);
      partial = lines.pop() ?? '';
      if (partial.length > maxLine) {
        lines.push(partial);
        partial = '';
      }
      for (const line of lines) onLine(line);
    },
    end() {
      if (partial) onLine(partial);
      partial = '';
    },
  };
}
