// Splits streamed LLM text into sentences as early as is safe, so speech synthesis can start on the
// first sentence while the rest is still being generated. A sentence is released only once the text
// after it has begun: until then "3." may become "3.5" and "8:" may become "8:30".

export class SentenceSplitter {
  private readonly segmenter: Intl.Segmenter;
  private pending = "";

  constructor(language: string) {
    this.segmenter = new Intl.Segmenter(language, { granularity: "sentence" });
  }

  /** Adds streamed text; returns the sentences it completed (trimmed, non-empty), in order. */
  push(text: string): string[] {
    this.pending += text;
    const segments = [...this.segmenter.segment(this.pending)];
    // The last segment is still open; and a last segment that is only whitespace has not started yet.
    let open = segments.length - 1;
    if (open > 0 && segments[open]!.segment.trim() === "") open--;
    if (open <= 0) return [];
    const done = segments.slice(0, open);
    this.pending = this.pending.slice(segments[open]!.index);
    return done.map((s) => s.segment.trim()).filter((s) => s !== "");
  }

  /** The text is complete: whatever is left is the last sentence. */
  flush(): string[] {
    const rest = this.pending.trim();
    this.pending = "";
    return rest === "" ? [] : [rest];
  }
}
