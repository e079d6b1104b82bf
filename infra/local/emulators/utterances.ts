// Finds utterances in 8 kHz mu-law audio by energy, on the audio's own clock, so the speech
// emulator's partials and finals depend on what the caller sent and never on how fast it arrived.
// Pure: bytes in, events out.
import { FRAME_MS, SAMPLE_RATE, levelDbfs, mulawToPcm } from "@voice/protocol";

const FRAME_SAMPLES = (SAMPLE_RATE * FRAME_MS) / 1000;

export interface UtteranceTiming {
  /** A 20 ms frame is speech when its RMS level is above this (dBFS). -40 dBFS sits well under
   *  eSpeak's quietest phonemes and well over a phone line's noise floor. */
  speechThresholdDbfs: number;
  /** Consecutive speech frames before an utterance starts (it starts at the first of them), so a
   *  click does not open one. */
  onsetFrames: number;
  /** Speech audio (from the utterance start) before the first partial. */
  firstPartialAfterMs: number;
  /** Audio between partials while speech continues. */
  partialIntervalMs: number;
  /** Trailing silence (audio time) that ends an utterance with a final; shorter pauses do not. */
  finalSilenceMs: number;
  /** An energy burst shorter than this (first to last speech frame: a cough, a click, a short noise)
   *  gives no result at all and does not take a script line. */
  minSpeechMs: number;
}

export const DEFAULT_UTTERANCE_TIMING: UtteranceTiming = {
  speechThresholdDbfs: -40,
  onsetFrames: 3,
  firstPartialAfterMs: 200,
  partialIntervalMs: 200,
  finalSilenceMs: 300,
  minSpeechMs: 200,
};

export type UtteranceEvent =
  /** `speechMs`: audio from the utterance start to the end of this frame; `atMs`: stream offset. */
  | { kind: "partial"; utterance: number; speechMs: number; atMs: number }
  /** Every frame of an utterance (minSpeechMs reached) that does not end it, speech or pause: how far
   *  its audio has got (`speechMs` from its start, `atMs` the stream offset), for results timed by the
   *  audio rather than by a steady pace. */
  | { kind: "progress"; utterance: number; speechMs: number; atMs: number }
  /** `endMs`: stream offset of the end of the utterance's last speech frame. */
  | { kind: "final"; utterance: number; endMs: number; atMs: number }
  /** A burst shorter than `minSpeechMs` ended: no result, no utterance index used. */
  | { kind: "ignored"; startMs: number; endMs: number; atMs: number };

interface ActiveUtterance {
  startMs: number;
  lastSpeechEndMs: number;
  nextPartialAtMs: number;
  /** Long enough to be an utterance (minSpeechMs reached); until then it may still be a cough. */
  confirmed: boolean;
}

export class UtteranceTracker {
  private readonly pending = new Uint8Array(FRAME_SAMPLES);
  private pendingLength = 0;
  private readonly pcm = new Int16Array(FRAME_SAMPLES);
  private frames = 0;
  private speechRun = 0;
  private active: ActiveUtterance | undefined;
  private utterances = 0;

  constructor(private readonly timing: UtteranceTiming = DEFAULT_UTTERANCE_TIMING) {}

  /** Audio received so far, in ms (whole frames only). */
  get audioMs(): number {
    return this.frames * FRAME_MS;
  }

  /** Feeds mu-law bytes of any length; a partial frame waits for the next call. */
  push(mulaw: Uint8Array): UtteranceEvent[] {
    const events: UtteranceEvent[] = [];
    let at = 0;
    while (at < mulaw.length) {
      const take = Math.min(FRAME_SAMPLES - this.pendingLength, mulaw.length - at);
      this.pending.set(mulaw.subarray(at, at + take), this.pendingLength);
      this.pendingLength += take;
      at += take;
      if (this.pendingLength === FRAME_SAMPLES) {
        this.pendingLength = 0;
        this.frame(levelDbfs(mulawToPcm(this.pending, this.pcm)) > this.timing.speechThresholdDbfs, events);
      }
    }
    return events;
  }

  /** End of audio: an utterance still open is final now (as Google does on half-close); a burst still
   *  shorter than minSpeechMs is ignored. */
  flush(): UtteranceEvent[] {
    if (!this.active) return [];
    return [this.finish(this.active)];
  }

  private frame(isSpeech: boolean, events: UtteranceEvent[]): void {
    const endMs = (this.frames + 1) * FRAME_MS;
    this.frames++;
    this.speechRun = isSpeech ? this.speechRun + 1 : 0;
    if (!this.active) {
      if (this.speechRun < this.timing.onsetFrames) return;
      const startMs = endMs - this.speechRun * FRAME_MS;
      this.active = { startMs, lastSpeechEndMs: endMs, nextPartialAtMs: startMs + this.timing.firstPartialAfterMs, confirmed: false };
    }
    const active = this.active;
    if (isSpeech) {
      active.lastSpeechEndMs = endMs;
      active.confirmed ||= endMs - active.startMs >= this.timing.minSpeechMs;
      if (active.confirmed && endMs >= active.nextPartialAtMs) {
        events.push({ kind: "partial", utterance: this.utterances, speechMs: endMs - active.startMs, atMs: endMs });
        active.nextPartialAtMs = endMs + this.timing.partialIntervalMs;
      }
    } else if (endMs - active.lastSpeechEndMs >= this.timing.finalSilenceMs) {
      events.push(this.finish(active));
      return;
    }
    if (active.confirmed) events.push({ kind: "progress", utterance: this.utterances, speechMs: endMs - active.startMs, atMs: endMs });
  }

  private finish(active: ActiveUtterance): UtteranceEvent {
    this.active = undefined;
    if (!active.confirmed) return { kind: "ignored", startMs: active.startMs, endMs: active.lastSpeechEndMs, atMs: this.audioMs };
    return { kind: "final", utterance: this.utterances++, endMs: active.lastSpeechEndMs, atMs: this.audioMs };
  }
}
