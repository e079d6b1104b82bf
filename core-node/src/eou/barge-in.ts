// When caller speech interrupts the agent. Pure: the call session feeds it the utterance's voiced
// audio and its transcript so far, and asks, while an answer is in progress, whether to stop it.
//
//   voiced < BARGE_IN_MIN_MS                      -> never (a cough, a click)
//   then a word that is not a backchannel         -> interrupt at once ("words")
//   only backchannel words so far                 -> hold ...
//   ... until voiced reaches BACKCHANNEL_MAX_MS   -> interrupt ("long_speech")
//   no words at all, however long                 -> hold: sound the recognizer finds no word in
//                                                    (music, a TV, a tone) is not the caller talking
import type { BackchannelLexicon } from "./backchannel.js";

export interface BargeInSettings {
  /** BARGE_IN_MIN_MS */
  minMs: number;
  /** BACKCHANNEL_MAX_MS */
  backchannelMaxMs: number;
}

/** What the caller's words so far are: nothing yet, only backchannels, or a real word. */
export type HeardWords = "none" | "backchannel" | "words";

export type BargeInVerdict =
  | { interrupt: false; why: "too_short" | "backchannel" | "no_words" }
  | { interrupt: true; reason: "words" | "long_speech" };

export function bargeInVerdict(voicedMs: number, heard: HeardWords, settings: BargeInSettings): BargeInVerdict {
  if (voicedMs < settings.minMs) return { interrupt: false, why: "too_short" };
  if (heard === "words") return { interrupt: true, reason: "words" };
  if (heard === "none") return { interrupt: false, why: "no_words" };
  if (voicedMs >= settings.backchannelMaxMs) return { interrupt: true, reason: "long_speech" };
  return { interrupt: false, why: "backchannel" };
}

export function classifyWords(transcript: string, lexicon: BackchannelLexicon): HeardWords {
  if (transcript.trim() === "") return "none";
  return lexicon.isBackchannelOnly(transcript) ? "backchannel" : "words";
}

/** One utterance's barge-in decision: decides at most once between resets. */
export class BargeInJudge {
  private heard: HeardWords = "none";
  private decided = false;

  constructor(
    private readonly settings: BargeInSettings,
    private readonly lexicon: BackchannelLexicon,
  ) {}

  /** A new utterance began. */
  reset(): void {
    this.heard = "none";
    this.decided = false;
  }

  /** The utterance's transcript so far (each partial replaces the previous one). */
  hear(transcript: string): void {
    this.heard = classifyWords(transcript, this.lexicon);
  }

  /** Asked while an answer is in progress: the reason to interrupt it now, if any. */
  decide(voicedMs: number): "words" | "long_speech" | undefined {
    if (this.decided) return undefined;
    const verdict = bargeInVerdict(voicedMs, this.heard, this.settings);
    if (!verdict.interrupt) return undefined;
    this.decided = true;
    return verdict.reason;
  }
}
