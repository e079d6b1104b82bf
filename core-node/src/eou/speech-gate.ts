// Trims WebRTC VAD's own hangover. After speech stops, the VAD keeps answering "voiced" for a few
// more frames (in mode 2 with 20 ms frames, 3 to 5 frames: up to ~110 ms measured here), which would
// put the end of speech late, shorten every latency measured from it, and let a 150 ms noise pass
// as a 250 ms utterance. Those extra frames are silence or line noise, far below the speech just
// before them; so a frame counts as speech only when the VAD says voiced AND its level is within
// `rangeDb` of the recent speech peak (and above an absolute floor). Quiet sounds inside speech stay
// within range of the loud ones around them. Pure: levels in, verdicts out.
export interface SpeechGateSettings {
  /** Frames below this level are never speech (digital silence, a quiet line). */
  floorDbfs: number;
  /** How far below the recent speech peak a voiced frame may be and still count as speech. */
  rangeDb: number;
  /** How fast the recent peak forgets, per frame, so loud speech does not mute a quieter caller for long. */
  decayDbPerFrame: number;
}

export const DEFAULT_SPEECH_GATE: SpeechGateSettings = { floorDbfs: -55, rangeDb: 30, decayDbPerFrame: 1 };

export class SpeechGate {
  private peakDb = Number.NEGATIVE_INFINITY;

  constructor(private readonly settings: SpeechGateSettings = DEFAULT_SPEECH_GATE) {}

  /** One frame's verdict: `voiced` from the VAD, `levelDb` the frame's RMS level in dBFS. */
  isSpeech(voiced: boolean, levelDb: number): boolean {
    const { floorDbfs, rangeDb, decayDbPerFrame } = this.settings;
    this.peakDb -= decayDbPerFrame;
    if (voiced && levelDb > this.peakDb) this.peakDb = levelDb;
    return voiced && levelDb >= floorDbfs && levelDb >= this.peakDb - rangeDb;
  }
}
