// Words that cannot end an utterance. People pause inside a sentence — after "and", "the", "של",
// before the rest of a number — for longer than the VAD hangover; the silence alone says "done"
// when the words say "not yet". This judges the words: pure text matching on the transcript so far
// and what the agent last asked, per language (the table is settable as EOU_HOLD_WORDS).

import { normalisedWords } from "./backchannel.js";

/** Why the words so far cannot end the utterance (the TURN line's `eou_hold`). */
export type HoldReason = "function_word" | "filler" | "number";

/** The words of one language the judge uses; every list may be empty. */
export interface HoldWords {
  /** Words a sentence does not end on: conjunctions, prepositions, articles, possessives. */
  unfinished: string[];
  /** One-letter prefixes a word is written with (Hebrew ו, ש, ל...): alone, or before an unfinished word, they end nothing either. */
  prefixes: string[];
  /** Hesitation sounds ("um", "אממ"). */
  fillers: string[];
  /** Words in the agent's question that ask for a number (a phone number, an ID). */
  numberPrompts: string[];
  /** Number words besides digits ("five", "חמש"): a dictated number goes on after them. */
  numbers: string[];
}

export const DEFAULT_HOLD_WORDS: Record<string, HoldWords> = {
  he: {
    unfinished: ["של", "עם", "אבל", "כי", "אם", "את", "על", "או", "גם", "אל", "לפני", "אחרי", "בין", "כמו", "שאני"],
    prefixes: ["ו", "ש", "ה", "ב", "כ", "ל", "מ"],
    fillers: ["אמ", "אממ", "אה", "אהה", "ממ", "אמממ", "אהמ"],
    numberPrompts: ["מספר", "טלפון", "תז", "זהות", "קוד", "ספרות", "מיקוד"],
    numbers: ["אפס", "אחת", "אחד", "שתיים", "שניים", "שתים", "שלוש", "ארבע", "חמש", "שש", "שבע", "שמונה", "תשע", "עשר"],
  },
  en: {
    // Verbs like "is" are left out: a sentence ends on them ("that's what it is"). Prepositions a
    // question can end on ("what for") stay: a pause after them is far more common, and a wrong hold
    // costs only the wait.
    unfinished: ["and", "or", "but", "the", "a", "an", "to", "of", "my", "your", "our", "their", "for", "at", "in", "on", "with", "from", "because", "if"],
    prefixes: [],
    fillers: ["um", "uh", "er", "erm", "uhm", "hmm"],
    numberPrompts: ["number", "phone", "digits", "code", "zip", "account", "id"],
    numbers: ["zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twenty", "thirty", "forty", "fifty", "hundred"],
  },
};

const DIGITS = /^\p{N}+$/u;

/**
 * Digits that make a whole phone number (Israel's and North America's: 10); once said, a dictated
 * number can end. An ID or a code of fewer digits is held up to EOU_HOLD_MAX_MS.
 */
export const COMPLETE_NUMBER_DIGITS = 10;

/** One language's judge of an unfinished utterance. */
export class UnfinishedWords {
  private readonly unfinished: Set<string>;
  private readonly prefixes: Set<string>;
  private readonly fillers: Set<string>;
  private readonly numberPrompts: Set<string>;
  private readonly numbers: Set<string>;

  constructor(words: HoldWords) {
    const normal = (list: string[]) => new Set(list.flatMap((word) => normalisedWords(word)));
    this.unfinished = normal(words.unfinished);
    this.prefixes = normal(words.prefixes);
    this.fillers = normal(words.fillers);
    this.numberPrompts = normal(words.numberPrompts);
    this.numbers = normal(words.numbers);
  }

  /** The words configured for `language` ("he-IL" uses "he-il" if given, else "he"); none: never holds. */
  static forLanguage(language: string, table: Readonly<Record<string, HoldWords>>): UnfinishedWords {
    const full = language.toLowerCase();
    const words = table[full] ?? table[full.split(/[-_]/)[0]!];
    return new UnfinishedWords(words ?? { unfinished: [], prefixes: [], fillers: [], numberPrompts: [], numbers: [] });
  }

  /** Why `transcript` (the words so far) cannot end the utterance, given what the agent last said; undefined when it can. */
  reason(transcript: string, agentAsked: string): HoldReason | undefined {
    const words = normalisedWords(transcript);
    const last = words.at(-1);
    if (last === undefined) return undefined;
    if (this.fillers.has(last)) return "filler";
    if (this.isUnfinishedWord(last)) return "function_word";
    if (this.isNumber(last) && this.digits(words) < COMPLETE_NUMBER_DIGITS && normalisedWords(agentAsked).some((word) => this.numberPrompts.has(word))) return "number";
    return undefined;
  }

  /** Digits said: each numeral's digits, one per number word. */
  private digits(words: string[]): number {
    return words.reduce((sum, word) => sum + (DIGITS.test(word) ? word.length : this.numbers.has(word) ? 1 : 0), 0);
  }

  /** An unfinished word, a run of prefixes alone ("ו", "וש"), or prefixes before an unfinished word ("ושל"). */
  private isUnfinishedWord(word: string): boolean {
    if (this.unfinished.has(word)) return true;
    for (let cut = 0; cut < word.length && this.prefixes.has(word[cut]!); cut++) {
      const rest = word.slice(cut + 1);
      if (rest === "" || this.unfinished.has(rest)) return true;
    }
    return false;
  }

  private isNumber(word: string): boolean {
    return DIGITS.test(word) || this.numbers.has(word);
  }
}
