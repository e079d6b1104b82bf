// Backchannels: "כן", "uh-huh", "right" — a listener's acknowledgement, not a request to stop.
// Pure text matching: a transcript is "only backchannel" when every word of it is covered by the
// configured words and phrases of the call's language, ignoring case, punctuation and diacritics.

/** The words of a transcript, normalised for matching: lower case, no punctuation or diacritics. */
export function normalisedWords(text: string): string[] {
  return (
    text
      .normalize("NFD")
      // Combining marks: Latin accents and Hebrew niqqud.
      .replace(/\p{M}/gu, "")
      .toLowerCase()
      // Apostrophes and the Hebrew geresh/gershayim join a word ("ok'", "צה״ל"); other punctuation splits.
      .replace(/['’`׳״"]/gu, "")
      .split(/[^\p{L}\p{N}]+/u)
      .filter((word) => word !== "")
      // A drawn-out sound ("mmm", "אההה") matches its short form ("mm", "אהה").
      .map((word) => word.replace(/(\p{L})\1{2,}/gu, "$1$1"))
  );
}

export class BackchannelLexicon {
  /** Each phrase as its normalised words joined by one space. */
  private readonly phrases = new Set<string>();
  private readonly longestPhrase: number;

  constructor(words: readonly string[]) {
    let longest = 0;
    for (const phrase of words) {
      const normal = normalisedWords(phrase);
      if (normal.length === 0) continue;
      this.phrases.add(normal.join(" "));
      longest = Math.max(longest, normal.length);
    }
    this.longestPhrase = longest;
  }

  /** The words and phrases configured for `language` ("he-IL" uses "he-il" if given, else "he"). */
  static forLanguage(language: string, table: Readonly<Record<string, readonly string[]>>): BackchannelLexicon {
    const full = language.toLowerCase();
    const prefix = full.split(/[-_]/)[0]!;
    return new BackchannelLexicon(table[full] ?? table[prefix] ?? []);
  }

  /**
   * True when the transcript has words and all of them are backchannels ("כן", "כן כן, נכון").
   * Nothing said is not a backchannel.
   */
  isBackchannelOnly(transcript: string): boolean {
    const words = normalisedWords(transcript);
    if (words.length === 0) return false;
    // covered[i]: the first i words split into configured phrases.
    const covered = new Array<boolean>(words.length + 1).fill(false);
    covered[0] = true;
    for (let end = 1; end <= words.length; end++) {
      for (let length = 1; length <= Math.min(this.longestPhrase, end) && !covered[end]; length++) {
        covered[end] = covered[end - length]! && this.phrases.has(words.slice(end - length, end).join(" "));
      }
    }
    return covered[words.length]!;
  }
}
