/**
 * Turns chunks of output into lines, keeping the partial last line for the next chunk. A line with no end
 * in sight (a DAG printing without newlines) is handed on in pieces once it passes `maxLine` characters; each
 * piece keeps back its last `overlap` characters for the next one, so that a secret printed across two chunks
 * is whole in one piece when the line is redacted (secrets are found line by line).
 */
export function lineSplitter(onLine: (line: string) => void, maxLine = 16_384, overlap = Math.min(4096, Math.floor(maxLine / 2))): { push(text: string): void; end(): void } {
  let partial = '';
  return {
    push(text) {
      const lines = (partial + text).split(/\r?\n/);
      partial = lines.pop() ?? '';
      if (partial.length > maxLine) {
        lines.push(partial.slice(0, partial.length - overlap));
        partial = partial.slice(partial.length - overlap);
      }
      for (const line of lines) onLine(line);
    },
    end() {
      if (partial) onLine(partial);
      partial = '';
    },
  };
}
