// Splits a byte stream into lines, with a cap on the length of one line. Works on bytes, so a
// UTF-8 character split across two chunks is decoded whole.

export interface LineSink {
  line(text: string): void;
  /** a line longer than the cap began; its bytes are dropped up to the next newline */
  oversized(): void;
}

export interface Splitter {
  (chunk: Buffer): void;
  /** true while part of a line has arrived and its newline has not */
  midLine(): boolean;
}

export function lineSplitter(max: number, sink: LineSink): Splitter {
  let parts: Buffer[] = [];
  let size = 0;
  let discarding = false;

  const push = (chunk: Buffer) => {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) {
        const rest = chunk.length - start;
        if (discarding || rest === 0) return;
        if (size + rest > max) {
          parts = [];
          size = 0;
          discarding = true;
          sink.oversized();
          return;
        }
        parts.push(chunk.subarray(start));
        size += rest;
        return;
      }
      if (discarding) {
        discarding = false;
      } else if (size + (nl - start) > max) {
        sink.oversized();
      } else {
        const piece = chunk.subarray(start, nl);
        const whole = size === 0 ? piece : Buffer.concat([...parts, piece]);
        let text = whole.toString('utf8');
        if (text.endsWith('\r')) text = text.slice(0, -1);
        if (text.length > 0) sink.line(text);
      }
      parts = [];
      size = 0;
      start = nl + 1;
    }
  };
  return Object.assign(push, { midLine: () => size > 0 || discarding });
}
