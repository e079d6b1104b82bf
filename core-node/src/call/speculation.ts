// Speculative answers: the LLM starts on the caller's partial transcript before the end of the
// utterance, and the answer's first sentences are synthesized into memory, never sent. At the turn,
// if the transcript is the one speculated on (normalised: case, punctuation, spacing) and nothing
// else changed (the history, the turn number), the prepared answer plays at once and its LLM stream
// goes on; otherwise it is aborted (LLM stream and syntheses) and none of it ever reaches the caller.
//
// When: once the transcript so far has stayed the same for SPECULATE_STABLE_MS of the caller's audio
// after they paused (the VAD hears no voice), or SPECULATE_STABLE_VOICED_MS while their voice goes
// on (the recognizer can hold the whole sentence before its last word ends; while the caller talks,
// a shorter wait mostly catches the recognizer between two words). Time is the caller's audio clock,
// so a loaded machine decides as an idle one does. A new transcript voids the speculation and may
// start another: at most SPECULATE_MAX_PER_UTTERANCE per utterance, each one an LLM request.
//
// Pure: SpeculationTrigger says when (the caller's listening drives it, see listening.ts) and
// speculationMismatch whether a prepared answer answers the turn; the answers shell (answering.ts)
// holds the one speculative answer in flight.
import type { ChatMessage } from "../llm/types.js";

export interface SpeculationSettings {
  /** LLM_SPECULATE. */
  enabled: boolean;
  /** SPECULATE_STABLE_MS: stability needed once the caller paused. */
  stableMs: number;
  /** SPECULATE_STABLE_VOICED_MS: stability needed while the caller's voice goes on. */
  stableVoicedMs: number;
  /** SPECULATE_MAX_PER_UTTERANCE. */
  maxPerUtterance: number;
}

/**
 * Trailing silence that makes a pause: one unvoiced frame happens inside words (stops, plosives),
 * two in a row rarely do.
 */
export const PAUSE_MS = 40;

/** What was said, without what does not change it: case, punctuation, spacing (and Unicode forms). */
export function normaliseTranscript(text: string): string {
  return text.normalize("NFKC").toLocaleLowerCase().replace(/\p{P}+/gu, "").replace(/\s+/g, " ").trim();
}

/** When to speculate, on the caller's audio clock. One per utterance; pure. */
export class SpeculationTrigger {
  private text = "";
  private heardText = "";
  private changedAtMs = 0;
  private startedCount = 0;
  private running = false;

  constructor(private readonly settings: SpeculationSettings) {}

  /** Speculations started in this utterance. */
  get started(): number {
    return this.startedCount;
  }

  /** A speculation started on the current transcript is still in flight, as far as the trigger knows. */
  get speculating(): boolean {
    return this.running;
  }

  /** A new utterance: nothing heard yet, the budget full again. */
  reset(): void {
    this.text = "";
    this.heardText = "";
    this.startedCount = 0;
    this.running = false;
  }

  /** The transcript so far, heard at `audioMs`. True when what it says changed: a speculation on the old one is void. */
  heard(transcript: string, audioMs: number): boolean {
    const text = normaliseTranscript(transcript);
    if (text === this.text) return false;
    this.text = text;
    this.heardText = transcript;
    this.changedAtMs = audioMs;
    const voided = this.running;
    this.running = false;
    return voided;
  }

  /** Per frame: the transcript to speculate on now, if it is time. `silenceMs`: trailing silence (0 while voiced). */
  due(audioMs: number, silenceMs: number): string | undefined {
    const { enabled, stableMs, stableVoicedMs, maxPerUtterance } = this.settings;
    if (!enabled || this.running || this.text === "" || this.startedCount >= maxPerUtterance) return undefined;
    const needed = silenceMs >= PAUSE_MS ? stableMs : stableVoicedMs;
    return audioMs - this.changedAtMs >= needed ? this.heardText : undefined;
  }

  /** A speculation started on the current transcript. */
  began(): void {
    this.startedCount++;
    this.running = true;
  }

  /** The speculation in flight was stopped for another reason than a new transcript (it may start again, budget allowing). */
  stopped(): void {
    this.running = false;
  }
}

/** What a speculative answer was asked, to check at the turn that it answers the turn. */
export interface SpeculationBasis {
  /** The caller's words as the partial had them. */
  text: string;
  /** The history before them, as sent. */
  history: readonly ChatMessage[];
  turn: number;
}

/** Why a speculative answer does not answer this turn, or undefined when it does. */
export function speculationMismatch(
  basis: SpeculationBasis,
  turn: { transcript: string; history: readonly ChatMessage[]; turn: number },
): string | undefined {
  if (normaliseTranscript(basis.text) !== normaliseTranscript(turn.transcript)) return "the final transcript differs";
  if (basis.turn !== turn.turn) return "another turn came first";
  const same =
    basis.history.length === turn.history.length &&
    basis.history.every((message, i) => message.role === turn.history[i]!.role && message.content === turn.history[i]!.content);
  return same ? undefined : "the conversation changed";
}
