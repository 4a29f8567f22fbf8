/**
 * A task's log for an assistant: the end is where a failure is said, so the end is kept, within a line and a
 * character budget; what was dropped is counted and said.
 */
export class BoundedLog {
  private readonly lines: string[] = [];
  private chars = 0;
  private total = 0;

  constructor(private readonly maxLines = 200, private readonly maxChars = 20_000) {}

  push(line: string): void {
    this.total++;
    this.lines.push(line);
    this.chars += line.length + 1;
    while (this.lines.length > this.maxLines || (this.chars > this.maxChars && this.lines.length > 1)) {
      this.chars -= this.lines.shift()!.length + 1;
    }
  }

  kept(): readonly string[] {
    return this.lines;
  }

  summary(): { lines: string[]; totalLines: number; truncated: boolean } {
    return { lines: [...this.lines], totalLines: this.total, truncated: this.total > this.lines.length };
  }

  /** The log as text, with a first line that says how much of the start was left out. */
  text(): string {
    const dropped = this.total - this.lines.length;
    const lastLine = this.lines.at(-1);
    const clipped = this.lines.length === 1 && lastLine !== undefined && lastLine.length > this.maxChars ? [`...${lastLine.slice(-this.maxChars)}`] : this.lines;
    return [...(dropped > 0 ? [`[${dropped} earlier line${dropped === 1 ? '' : 's'} left out; the last ${this.lines.length} follow]`] : []), ...clipped].join('\n');
  }
}
