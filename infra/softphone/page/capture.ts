// The caller's side of the phone line, as the softphone's audio worklet runs it: microphone samples
// at the audio context's rate, resampled to 8 kHz (resampler.ts), mu-law encoded and cut into 20 ms
// frames, one Twilio media frame each. Muted, the microphone's samples are replaced by silence, so the
// frames (and the caller's audio clock, which their timestamps are) keep coming, as on a phone on mute.
// Pure: samples in, frames out.
import { levelDbfs } from "@voice/protocol/level";
import { pcmToMulaw } from "@voice/protocol/mulaw";
import { Resampler } from "./resampler.js";

export const LINE_RATE = 8000;
export const FRAME_SAMPLES = 160;
export const FRAME_MS = 20;
/** A frame this loud (RMS) or louder counts as voiced for the page's meter (the speech emulator's threshold). */
const VOICED_DBFS = -40;

export class CaptureFramer {
  private readonly resampler: Resampler;
  private readonly pending = new Int16Array(FRAME_SAMPLES);
  private pendingLength = 0;
  private silence = new Float32Array(0);
  /** Microphone samples taken so far (at the context's rate): the caller's audio clock. */
  capturedSamples = 0;
  /** Frames produced so far. */
  frames = 0;
  /** Frames sent unmuted and at speech level. */
  voicedFrames = 0;

  constructor(readonly sampleRate: number) {
    this.resampler = new Resampler(sampleRate, LINE_RATE);
  }

  /** The caller's audio clock, ms of microphone audio taken since the start. */
  get clockMs(): number {
    return (this.capturedSamples / this.sampleRate) * 1000;
  }

  /** Takes one block of microphone samples (-1..1); returns the 20 ms mu-law frames it completed. */
  push(input: Float32Array, muted: boolean): Uint8Array[] {
    this.capturedSamples += input.length;
    let source = input;
    if (muted) {
      if (this.silence.length !== input.length) this.silence = new Float32Array(input.length);
      source = this.silence;
    }
    const frames: Uint8Array[] = [];
    for (const sample of this.resampler.push(source)) {
      this.pending[this.pendingLength++] = Math.max(-32768, Math.min(32767, Math.round(sample * 32768)));
      if (this.pendingLength < FRAME_SAMPLES) continue;
      if (!muted && levelDbfs(this.pending) >= VOICED_DBFS) this.voicedFrames++;
      frames.push(pcmToMulaw(this.pending));
      this.pendingLength = 0;
      this.frames++;
    }
    return frames;
  }
}

