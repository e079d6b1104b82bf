// A logger destination that keeps the lines, for tests: find a line, or wait for one still to come.
export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];
  private waiters: Array<{ test: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }> = [];

  write(text: string): void {
    for (const raw of text.split("\n")) {
      if (!raw) continue;
      const line = JSON.parse(raw) as Record<string, unknown>;
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => (w.test(line) ? (w.resolve(line), false) : true));
    }
  }

  /** Lines whose message is `message` (and whose fields include `fields`, compared shallowly). */
  find(message: string, fields: Record<string, unknown> = {}): Array<Record<string, unknown>> {
    return this.lines.filter((line) => matches(line, message, fields));
  }

  /** Resolves with the first line, past or future, that matches. */
  next(message: string, fields: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const seen = this.find(message, fields)[0];
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ test: (line) => matches(line, message, fields), resolve }));
  }
}

function matches(line: Record<string, unknown>, message: string, fields: Record<string, unknown>): boolean {
  return line.message === message && Object.entries(fields).every(([k, v]) => line[k] === v);
}
