// The call's judgement of its recognizer, utterance by utterance, as pure bookkeeping: whether a
// stream has hung, whether an utterance that got no transcript goes to the fallback transcription,
// and when a recognizer that is down gets another chance. The stream itself (stt/stream.ts) handles
// failures it can see; this catches what only the turn-taking knows (where speech ended, whether an
// answer is playing). No clock, no I/O: the session feeds it what the stream and the machine say.
import type { SttHealth, SttStats } from "../stt/types.js";

/**
 * At the final's deadline, a stream whose latest result ends this far before the end of speech has
 * stopped answering mid-utterance (a hung connection, a crawling service): it is replaced and the
 * utterance fed again, once per utterance, rather than settling for a partial that misses the end.
 */
export const STT_LAG_MS = 800;

/**
 * An utterance with this much voiced audio and no result at all gets the same treatment: its stream
 * may have hung before the caller spoke. If the new stream says nothing either, it was not speech
 * (noise, music), unless that happens twice in a row, which a hung service looks like.
 */
export const SILENT_UTTERANCE_VOICED_MS = 600;

/** What the recognition stream says about itself. */
export interface SttView {
  health: SttHealth;
  stats: Readonly<SttStats>;
  /** Where the current stream's latest result ends on the caller's clock. */
  lastResultEndMs: number | undefined;
}

/** The utterance the turn machine is in. */
export interface UtteranceView {
  startMs: number;
  /** End of its speech so far. */
  endMs: number;
  voicedMs: number;
  /** The recognizer said something about it. */
  heardResult: boolean;
}

export class RecognitionWatch {
  private errorsAtStart = 0;
  private reopensAtStart = 0;
  /** Streams replaced as hung during the current utterance (suspected, not seen failing). */
  private suspicions = 0;
  /** Start of the utterance whose stream was already replaced as hung. */
  private suspectedFor: number | undefined;
  /** Consecutive utterances with no result even from a replaced stream. */
  private silentUtterances = 0;
  /** Recognition went down and no utterance went to the fallback since: the next one does. */
  private downAwaitingFallback = false;

  constructor(private readonly backchannelMaxMs: number) {}

  /** An utterance began. True when the recognizer, down, should be tried again now (a new episode): the fallback has had its utterance. */
  speechStarted(stt: SttView): boolean {
    this.errorsAtStart = stt.stats.errors;
    this.reopensAtStart = stt.stats.reopens;
    this.suspicions = 0;
    return stt.health === "down" && !this.downAwaitingFallback;
  }

  /** Recognition went down: the next utterance (or the one in progress) goes to the fallback. */
  wentDown(): void {
    this.downAwaitingFallback = true;
  }

  /** Streams reopened since the utterance began: its retries. */
  retries(stt: SttView): number {
    return stt.stats.reopens - this.reopensAtStart;
  }

  /**
   * At the final's deadline: why the stream looks hung (the caller replaces it and waits on), or
   * undefined. Once per utterance.
   */
  hungStream(utterance: UtteranceView, stt: SttView): string | undefined {
    if (this.suspectedFor === utterance.startMs || stt.health === "down") return undefined;
    let reason: string;
    if (utterance.heardResult) {
      const answeredTo = Math.max(stt.lastResultEndMs ?? utterance.startMs, utterance.startMs);
      if (answeredTo >= utterance.endMs - STT_LAG_MS) return undefined;
      reason = `results stopped ${Math.round(utterance.endMs - answeredTo)} ms before the end of speech`;
    } else {
      if (utterance.voicedMs < SILENT_UTTERANCE_VOICED_MS) return undefined;
      reason = `no result for an utterance of ${Math.round(utterance.voicedMs)} ms of voiced audio`;
    }
    this.suspectedFor = utterance.startMs;
    this.suspicions++;
    return reason;
  }

  /**
   * The utterance ended without a transcript: true when its words are in the audio and it goes to
   * the fallback transcription (recognition down, or a stream failed during it, or a replaced stream
   * said nothing twice in a row). Over the agent's answer (`overAgent`), speech too short to
   * interrupt it may be a backchannel ("כן"): not worth cutting the answer for.
   */
  needsFallback(utterance: Pick<UtteranceView, "voicedMs">, stt: SttView, overAgent: boolean): boolean {
    const failures = stt.stats.errors - this.errorsAtStart - this.suspicions;
    if (this.suspicions > 0) this.silentUtterances++;
    const unheard = stt.health === "down" || failures > 0 || this.silentUtterances >= 2;
    return unheard && !(overAgent && utterance.voicedMs < this.backchannelMaxMs);
  }

  /** A stream was suspected during the utterance (for the log). */
  get suspected(): boolean {
    return this.suspicions > 0;
  }

  /** The utterance got a transcript from the recognizer. */
  transcribed(): void {
    this.silentUtterances = 0;
  }

  /** The utterance went to the fallback transcription. */
  fellBack(): void {
    this.downAwaitingFallback = false;
    this.silentUtterances = 0;
  }
}
