/** The Debug Adapter Protocol's wire format: JSON messages, each after a `Content-Length` header. */

export function dapFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message));
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]);
}

/** Splits a byte stream into DAP messages, however the chunks fall. */
export class DapReader {
  private buffer = Buffer.alloc(0);

  /** The messages completed by this chunk, in order. */
  push(chunk: Buffer): unknown[] {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const messages: unknown[] = [];
    for (;;) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return messages;
      const length = Number(/Content-Length: *(\d+)/i.exec(this.buffer.subarray(0, headerEnd).toString())?.[1]);
      if (this.buffer.length < headerEnd + 4 + length) return messages;
      messages.push(JSON.parse(this.buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString()));
      this.buffer = this.buffer.subarray(headerEnd + 4 + length);
    }
  }
}
