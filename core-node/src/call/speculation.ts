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
// SpeculationTrigger and speculationMismatch decide (pure: numbers and strings in, verdicts out);
// Speculator holds the one speculative answer in flight and asks its host to start or stop it.
import type { TurnLineFields } from "@voice/protocol";
import type { ChatMessage } from "../llm/types.js";
import type { Answer } from "./answer.js";

/** The TURN line's `speculation`. */
export type SpeculationOutcome = NonNullable<TurnLineFields["speculation"]>;

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

/** A speculative answer in flight: held (nothing sent) until it is played, or aborted. */
export interface SpeculativeAnswer extends SpeculationBasis {
  answer: Answer;
  /** Resolves when all of it was sent (once played) or it was stopped; never rejects. */
  done: Promise<void>;
}

export interface SpeculationHost {
  /** Whether an answer may be prepared now (none in progress, the call not ending or moving). */
  mayStart(): boolean;
  /** Starts the LLM on the history plus `text`, its answer's speaker held. */
  start(text: string): SpeculativeAnswer;
  /** A speculative answer was aborted, for the log. */
  discarded(speculative: SpeculativeAnswer, reason: string): void;
}

/** The call's speculative answer, if any: started on the trigger, played or discarded at the turn. */
export class Speculator {
  private readonly trigger: SpeculationTrigger;
  private inFlight: SpeculativeAnswer | undefined;

  constructor(
    settings: SpeculationSettings,
    private readonly host: SpeculationHost,
  ) {
    this.trigger = new SpeculationTrigger(settings);
  }

  /** A new utterance began. */
  utteranceStarted(): void {
    this.discard("a new utterance began");
    this.trigger.reset();
  }

  /** The transcript so far changed (or not) at `audioMs`. */
  heard(transcript: string, audioMs: number): void {
    if (this.trigger.heard(transcript, audioMs)) this.discard("the transcript changed");
  }

  /** Per frame of the utterance: starts a speculation when it is due and allowed. */
  frame(audioMs: number, silenceMs: number): void {
    const text = this.trigger.due(audioMs, silenceMs);
    if (text === undefined || !this.host.mayStart()) return;
    this.trigger.began();
    this.inFlight = this.host.start(text);
  }

  /**
   * The utterance became a turn: the speculative answer that answers it (the caller's `transcript`
   * as turn number `turn`, after `history`), if there is one; any other is discarded. The outcome
   * goes into the TURN line.
   */
  take(transcript: string, history: readonly ChatMessage[], turn: number): { speculative?: SpeculativeAnswer; outcome: SpeculationOutcome } {
    const speculative = this.inFlight;
    const mismatch = speculative && speculationMismatch(speculative, { transcript, history, turn });
    if (speculative && mismatch === undefined) {
      this.inFlight = undefined;
      this.trigger.reset();
      return { speculative, outcome: "used" };
    }
    return { outcome: this.abandon(mismatch ?? "the final transcript differs") };
  }

  /** The utterance ended without an answer to speculate for (or with another one): what became of its speculations. */
  abandon(reason: string): SpeculationOutcome {
    this.discard(reason);
    const outcome = this.trigger.started > 0 ? "discarded" : "none";
    this.trigger.reset();
    return outcome;
  }

  /** Stops the speculative answer in flight, if any (barge-in, hang-up, drain, an utterance without a turn). */
  discard(reason: string): void {
    const speculative = this.inFlight;
    if (!speculative) return;
    this.inFlight = undefined;
    this.trigger.stopped();
    speculative.answer.stop();
    this.host.discarded(speculative, reason);
  }
}
