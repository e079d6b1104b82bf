// Marks sent towards the caller whose echo has not come back, in the order sent. Twilio echoes marks
// in order, each once the audio before it has played (and every pending one at once on `clear`), so
// the first sentence mark outstanding ends the audio playing now.

/** The mark after an answer's last sentence ("<turn>.end"): it follows no audio of its own. */
const END_MARK = /^\d+\.end$/;

export class OutstandingMarks {
  private readonly names = new Set<string>();
  private waiters: Array<{ name: string; resolve: () => void }> = [];

  get size(): number {
    return this.names.size;
  }

  has(name: string): boolean {
    return this.names.has(name);
  }

  add(name: string): void {
    this.names.add(name);
  }

  /** The first outstanding mark that ends audio (a sentence or the greeting): its echo means that audio played. */
  get playing(): string | undefined {
    for (const name of this.names) if (!END_MARK.test(name)) return name;
    return undefined;
  }

  /** Some outstanding mark follows audio the caller has not heard yet. */
  get audioPending(): boolean {
    return this.playing !== undefined;
  }

  /**
   * The echo of `name`: returns the marks it settles, in order, up to and including `name` (echoes
   * come in order, so earlier ones were played too). Empty when `name` is not outstanding: a mark
   * returned by a `clear`, or one this core never sent.
   */
  echo(name: string): string[] {
    if (!this.names.has(name)) return [];
    const settled: string[] = [];
    for (const mark of this.names) {
      this.names.delete(mark);
      settled.push(mark);
      if (mark === name) break;
    }
    this.wake();
    return settled;
  }

  /** `clear` was sent: nothing sent before it will play. */
  clear(): void {
    this.names.clear();
    this.wake();
  }

  /** Resolves true once `name` is no longer outstanding (echoed or cleared), or false after `timeoutMs`. */
  settled(name: string, timeoutMs: number): Promise<boolean> {
    if (!this.names.has(name)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter.resolve !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.push({ name, resolve: done });
    });
  }

  private wake(): void {
    this.waiters = this.waiters.filter((waiter) => (this.names.has(waiter.name) ? true : (waiter.resolve(), false)));
  }
}
