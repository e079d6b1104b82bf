// What the corpus's callers say: sentences put together from the vendored clips (clips.json ids).
// A PAUSE in a sentence is where its continue items hold a silence in the middle of the clause.
import type { ContinueCue } from "./items.js";

export const PAUSE = "‖";

/** One clip in a sentence; `say` replaces the clip's own words in the transcript (digits dictated as numerals). */
export type SentencePart = string | { clip: string; say: string } | typeof PAUSE;

export interface ContinueSentence {
  id: string;
  parts: SentencePart[];
  /** What the words before each pause end in. */
  cue: ContinueCue;
  agentAsked?: string;
}

export interface EndSentence {
  id: string;
  parts: SentencePart[];
}

/** A phone number group read digit by digit, transcribed as numerals the way a recognizer writes dictated digits. */
const digits = (group: string): SentencePart[] => [...group].map((d) => ({ clip: `digit-${d}`, say: d }));

const PHONE_QUESTION = "What is your phone number?";

/** Unfinished clauses: each is heard with a silence of every CONTINUE_GAPS_MS length at its pauses. */
export const CONTINUE_SENTENCES: ContinueSentence[] = [
  { id: "tuesday-at-nine", parts: ["tuesday", "at", PAUSE, "digit-9", "thirty", "a-m"], cue: "function_word" },
  { id: "monday-at-five", parts: ["monday", "at", PAUSE, "digit-5", "p-m"], cue: "function_word" },
  { id: "tomorrow-at-ten", parts: ["tomorrow", "at", PAUSE, "ten", "oclock"], cue: "function_word" },
  {
    id: "messages-and-old",
    parts: ["you-have", "digit-2", "new", "messages", "and", PAUSE, "digit-3", "old", "messages"],
    cue: "function_word",
  },
  { id: "press-one-for", parts: ["press", "digit-1", "for", PAUSE, "extension", "digit-2"], cue: "function_word" },
  { id: "your-telephone-number", parts: ["your", PAUSE, "telephone-number"], cue: "function_word" },
  { id: "phone-052", parts: [...digits("052"), PAUSE, ...digits("555"), PAUSE, ...digits("0143")], cue: "number", agentAsked: PHONE_QUESTION },
  { id: "phone-415", parts: [...digits("415"), PAUSE, ...digits("867"), PAUSE, ...digits("2901")], cue: "number", agentAsked: PHONE_QUESTION },
  // The same words with the pause where nothing in them says more is coming.
  { id: "you-have-messages", parts: ["you-have", PAUSE, "digit-2", "new", "messages"], cue: "none" },
  { id: "tomorrow-then-at-ten", parts: ["tomorrow", PAUSE, "at", "ten", "oclock"], cue: "none" },
];

/** Finished sentences (each continue sentence is one as well, without its pauses). */
export const END_SENTENCES: EndSentence[] = [
  ...["0880", "0890", "0920", "0930"].map((n) => ({ id: `librivox-${n}`, parts: [`librivox-${n}`] })),
  ...["001", "002", "004", "005"].map((n) => ({ id: `cards-${n}`, parts: [`cards-${n}`] })),
  { id: "go-forward", parts: ["go-forward"] },
  { id: "goodbye", parts: ["goodbye"] },
  { id: "one-moment-please", parts: ["one-moment-please"] },
  { id: "thank-you", parts: ["thank-you"] },
  { id: "im-sorry", parts: ["im-sorry"] },
  { id: "please-try-again", parts: ["please-try-again"] },
];
