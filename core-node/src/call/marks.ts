// Marks sent towards the caller whose echo has not come back, in the order sent. Twilio echoes marks
// in order, each once the audio before it has played (and every pending one at once on `clear`), so
// the first sentence mark outstanding ends the audio playing now. Pure bookkeeping: waiting for an
// echo is the session's (timers.ts).

/** The mark after an answer's last sentence ("<turn>.end"): it follows no audio of its own. */
const END_MARK = /^\d+\.end$/;

export class OutstandingMarks {
  private readonly names = new Set<string>();

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
    return settled;
  }

  /** `clear` was sent: nothing sent before it will play. */
  clear(): void {
    this.names.clear();
  }
}
