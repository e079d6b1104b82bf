// End-of-utterance and turn decisions, as a pure state machine: events in (VAD verdicts per frame,
// STT results, timer expiries), actions out. It reads no clock and does no I/O; every event carries
// the wall time it happened at, so tests drive it with plain numbers.
//
// Speech is timed on the caller's audio clock (Twilio's media timestamps); the session maps that
// clock to wall time for the latency metrics (metrics/clock.ts). Whether speech interrupts the agent
// is decided elsewhere (barge-in.ts) from what this machine exposes: voiced audio and transcript.
//
// The hangover is held (up to holdMaxMs of silence) while the words so far cannot end an utterance
// ("Tuesday at…", a number being dictated): the judge of those words is given (eou/unfinished.ts).
import type { HoldReason } from "./unfinished.js";

export interface TurnMachineSettings {
  /** Audio per frame (20 ms on the phone line). */
  frameMs: number;
  /** Consecutive voiced frames that make speech start (a click or a pop is shorter). */
  speechStartFrames: number;
  /** Silence after speech that ends the utterance (VAD_HANGOVER_MS). */
  hangoverMs: number;
  /** Utterances shorter than this, start to end, are not a turn (MIN_UTT_SEC). */
  minUtteranceMs: number;
  /** Partials closer together than this are coalesced (STT_PARTIAL_DEBOUNCE_MS). */
  partialDebounceMs: number;
  /** After the end of the utterance, how long to wait for a final (STT_TIMEOUT_MS). */
  sttTimeoutMs: number;
  /** The most silence the end of utterance waits when the words cannot end one (EOU_HOLD_MAX_MS); at or under the hangover: never held. */
  holdMaxMs: number;
}

/** Why the transcript so far cannot end the utterance, or undefined when it can. */
export type HoldJudge = (transcript: string) => HoldReason | undefined;

export interface Utterance {
  /** Start of the first voiced frame, on the caller's audio clock. */
  startMs: number;
  /** End of the last voiced frame (speech end, before the hangover), on the caller's audio clock. */
  endMs: number;
  /** Voiced audio in the utterance (pauses excluded). */
  voicedMs: number;
  /** Wall time of the first STT result (partial, or a final when no partial came). */
  firstResultAt?: number;
  /** Pauses longer than the hangover the caller spoke on after, held because the words were unfinished. */
  pausesHeld: number;
  /** The end of the utterance was held: why, and the silence waited past the hangover. */
  hold?: { reason: HoldReason; ms: number };
}

export type TurnEvent =
  | { type: "frame"; voiced: boolean; audioMs: number; at: number }
  /** `audioEndMs`: where the result ends on the caller's audio clock, when the recognizer says. */
  | { type: "partial"; text: string; audioEndMs?: number; at: number }
  | { type: "final"; text: string; audioEndMs?: number; at: number }
  | { type: "sttTimeout"; id: number; at: number }
  /** Recognition is down: an utterance awaiting its transcript will not get one from it. */
  | { type: "sttDown" };

export type TurnAction =
  | { type: "speechStart"; startMs: number }
  /** The transcript so far; throttled to one per debounce window, the latest text is always kept. */
  | { type: "partial"; text: string; at: number }
  | { type: "utteranceDiscarded"; durationMs: number }
  /** A result after the end of utterance showed the words unfinished: the utterance goes on (held), the wait for its transcript is void. */
  | { type: "endOfUtteranceWithdrawn" }
  | { type: "endOfUtterance"; utterance: Utterance; at: number }
  /** Ask the shell for a timer; it answers with `sttTimeout` carrying the same id. */
  | { type: "awaitTranscript"; id: number; timeoutMs: number }
  | {
      type: "turn";
      transcript: string;
      usedPartial: boolean;
      utterance: Utterance;
      /** Wall time the end of utterance was decided. */
      eouAt: number;
      /** Wall time the transcript used arrived (the final) or was settled for (the timeout). */
      transcriptAt: number;
    }
  | { type: "noTranscript"; utterance: Utterance; eouAt: number };

type Phase = "idle" | "speaking" | "awaiting";

export class TurnMachine {
  private phase: Phase = "idle";
  /** Consecutive voiced frames while not speaking, and where that run began. */
  private run = 0;
  private runStartMs = 0;
  private utterance: Utterance | undefined;
  /** Start of the last voiced stretch after a pause; a final ending before it misses the tail. */
  private resumedAudioMs = 0;
  private finals: string[] = [];
  private lastFinalEndMs: number | undefined;
  private lastFinalAt = 0;
  private pendingPartial: string | undefined;
  private lastPartialEmitAt: number | undefined;
  private eouAt = 0;
  private timerId = 0;
  /** The current pause is held past the hangover, for this reason. */
  private holding: HoldReason | undefined;
  /** Words of a turn taken too early that this utterance goes on from (see carry). */
  private carried = "";
  /** End of the last frame seen, on the caller's audio clock. */
  private audioEndMs = 0;

  constructor(
    private readonly settings: TurnMachineSettings,
    private readonly holdJudge: HoldJudge = () => undefined,
  ) {}

  /** The caller paused past the hangover and the end of utterance is held: their words are unfinished. */
  get held(): boolean {
    return this.holding !== undefined;
  }

  /** True between speech start and the turn decision. */
  get inUtterance(): boolean {
    return this.phase !== "idle";
  }

  /** Voiced audio of the current utterance (0 outside one). */
  get voicedMs(): number {
    return this.utterance?.voicedMs ?? 0;
  }

  /** Start of the current utterance on the audio clock, if in one. */
  get utteranceStartMs(): number | undefined {
    return this.utterance?.startMs;
  }

  /** End of the current utterance's speech so far on the audio clock, if in one. */
  get utteranceEndMs(): number | undefined {
    return this.utterance?.endMs;
  }

  /** The recognizer has said something about the current utterance. */
  get heardResult(): boolean {
    return this.utterance?.firstResultAt !== undefined;
  }

  /** The current utterance's transcript so far: its finals and the latest partial, undebounced. */
  get transcriptSoFar(): string {
    return this.phase === "idle" ? "" : this.transcript();
  }

  /**
   * The utterance just started continues `words`, a turn the caller had not finished (they spoke on
   * right after it was taken): its transcript starts with them. Until the next utterance.
   */
  carry(words: string): void {
    if (this.phase !== "idle") this.carried = words.trim();
  }

  handle(event: TurnEvent): TurnAction[] {
    switch (event.type) {
      case "frame":
        this.audioEndMs = event.audioMs + this.settings.frameMs;
        return event.voiced ? this.voicedFrame(event.audioMs) : this.silentFrame(event.audioMs, event.at);
      case "partial":
        return this.partial(event.text, event.audioEndMs, event.at);
      case "final":
        return this.final(event.text, event.audioEndMs, event.at);
      case "sttTimeout":
        return this.timeout(event.id, event.at);
      case "sttDown":
        return this.abandon();
    }
  }

  private voicedFrame(audioMs: number): TurnAction[] {
    const { frameMs, speechStartFrames } = this.settings;
    if (this.phase === "speaking") {
      const utterance = this.utterance!;
      if (audioMs - utterance.endMs >= speechStartFrames * frameMs) this.resumedAudioMs = audioMs;
      if (this.holding !== undefined) {
        utterance.pausesHeld++;
        this.holding = undefined;
      }
      utterance.endMs = audioMs + frameMs;
      utterance.voicedMs += frameMs;
      return [];
    }
    if (this.run === 0) this.runStartMs = audioMs;
    this.run++;
    if (this.run < speechStartFrames) return [];
    this.run = 0;
    if (this.phase === "awaiting") {
      // The caller went on talking after a pause: same utterance, the pending decision is void.
      this.timerId++;
      this.phase = "speaking";
      this.resumedAudioMs = this.runStartMs;
      this.utterance!.endMs = audioMs + frameMs;
      this.utterance!.voicedMs += speechStartFrames * frameMs;
      return [];
    }
    this.phase = "speaking";
    this.utterance = { startMs: this.runStartMs, endMs: audioMs + frameMs, voicedMs: speechStartFrames * frameMs, pausesHeld: 0 };
    this.resumedAudioMs = this.runStartMs;
    this.clearTranscript();
    return [{ type: "speechStart", startMs: this.runStartMs }];
  }

  private silentFrame(audioMs: number, at: number): TurnAction[] {
    this.run = 0;
    if (this.phase !== "speaking") return [];
    const utterance = this.utterance!;
    const silenceMs = audioMs + this.settings.frameMs - utterance.endMs;
    if (silenceMs < this.settings.hangoverMs || this.holds(utterance, silenceMs)) return [];
    const durationMs = utterance.endMs - utterance.startMs;
    if (durationMs < this.settings.minUtteranceMs) {
      this.reset();
      return [{ type: "utteranceDiscarded", durationMs }];
    }
    this.eouAt = at;
    const actions: TurnAction[] = [{ type: "endOfUtterance", utterance, at }];
    if (this.pendingPartial === undefined && this.finals.length > 0 && this.finalCoversEnd()) {
      actions.push(this.commit(false, this.lastFinalAt));
      return actions;
    }
    this.phase = "awaiting";
    actions.push({ type: "awaitTranscript", id: ++this.timerId, timeoutMs: this.settings.sttTimeoutMs });
    return actions;
  }

  /**
   * Past the hangover: whether to wait on because the words so far cannot end the utterance. Judged
   * again on every silent frame, so a final that finishes the sentence ends the hold at once.
   */
  private holds(utterance: Utterance, silenceMs: number): boolean {
    const reason = this.holdReasonAt(silenceMs);
    if (reason !== undefined) {
      this.holding = reason;
      return true;
    }
    if (this.holding !== undefined) utterance.hold = { reason: this.holding, ms: silenceMs - this.settings.hangoverMs };
    this.holding = undefined;
    return false;
  }

  /**
   * Waiting for the transcript after the end of utterance, a result shows the words unfinished (the
   * recognizer was slower than the hangover): the utterance is held after all, the silence so far counting.
   */
  private holdsAfterAll(): boolean {
    if (this.phase !== "awaiting") return false;
    const reason = this.holdReasonAt(this.audioEndMs - this.utterance!.endMs);
    if (reason === undefined) return false;
    this.phase = "speaking";
    this.timerId++;
    this.holding = reason;
    return true;
  }

  /** Why to hold after `silenceMs` of silence: the words are unfinished and the hold has time left. */
  private holdReasonAt(silenceMs: number): HoldReason | undefined {
    return silenceMs < this.settings.holdMaxMs ? this.holdJudge(this.transcript()) : undefined;
  }

  /** Results from before this utterance (a late final of the previous turn, noise) are not ours. */
  private accepts(text: string, audioEndMs: number | undefined): boolean {
    if (this.phase === "idle" || text.trim() === "") return false;
    return audioEndMs === undefined || audioEndMs > this.utterance!.startMs;
  }

  private partial(text: string, audioEndMs: number | undefined, at: number): TurnAction[] {
    if (!this.accepts(text, audioEndMs)) return [];
    this.utterance!.firstResultAt ??= at;
    this.pendingPartial = text.trim();
    if (this.holdsAfterAll()) return [{ type: "endOfUtteranceWithdrawn" }];
    const last = this.lastPartialEmitAt;
    if (last !== undefined && at - last < this.settings.partialDebounceMs) return [];
    this.lastPartialEmitAt = at;
    return [{ type: "partial", text: this.transcript(), at }];
  }

  private final(text: string, audioEndMs: number | undefined, at: number): TurnAction[] {
    if (!this.accepts(text, audioEndMs)) return [];
    this.utterance!.firstResultAt ??= at;
    this.finals.push(text.trim());
    this.lastFinalEndMs = audioEndMs;
    this.lastFinalAt = at;
    this.pendingPartial = undefined;
    if (this.holdsAfterAll()) return [{ type: "endOfUtteranceWithdrawn" }];
    if (this.phase === "awaiting" && this.finalCoversEnd()) return [this.commit(false, at)];
    return [];
  }

  private finalCoversEnd(): boolean {
    return this.lastFinalEndMs === undefined || this.lastFinalEndMs >= this.resumedAudioMs;
  }

  private timeout(id: number, at: number): TurnAction[] {
    if (this.phase !== "awaiting" || id !== this.timerId) return [];
    if (this.transcript() === "") {
      const utterance = this.utterance!;
      this.reset();
      return [{ type: "noTranscript", utterance, eouAt: this.eouAt }];
    }
    return [this.commit(this.pendingPartial !== undefined, at)];
  }

  /** Whatever came of the utterance's recognition (a partial, an early final) is dropped: it goes elsewhere whole. */
  private abandon(): TurnAction[] {
    if (this.phase !== "awaiting") return [];
    const utterance = this.utterance!;
    this.reset();
    return [{ type: "noTranscript", utterance, eouAt: this.eouAt }];
  }

  private commit(usedPartial: boolean, transcriptAt: number): TurnAction {
    const action: TurnAction = {
      type: "turn",
      transcript: this.transcript(),
      usedPartial,
      utterance: this.utterance!,
      eouAt: this.eouAt,
      transcriptAt,
    };
    this.reset();
    return action;
  }

  private transcript(): string {
    const parts = this.pendingPartial === undefined ? this.finals : [...this.finals, this.pendingPartial];
    return this.carried === "" ? parts.join(" ") : [this.carried, ...parts].join(" ");
  }

  private clearTranscript(): void {
    this.carried = "";
    this.finals = [];
    this.lastFinalEndMs = undefined;
    this.pendingPartial = undefined;
    this.lastPartialEmitAt = undefined;
  }

  private reset(): void {
    this.phase = "idle";
    this.holding = undefined;
    this.run = 0;
    this.timerId++;
    this.utterance = undefined;
    this.clearTranscript();
  }
}
