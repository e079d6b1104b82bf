// The softphone's audio worklet: one processor is both ends of the handset, so the microphone's
// samples and the speaker's run on one clock, the audio thread's. Each 128-sample block, the
// microphone's block becomes 8 kHz mu-law frames for the line (capture.ts) and the playback queue
// fills the speaker's block (playback.ts); a mark echo's time is read off the microphone's count, the
// caller's audio clock that the media timestamps are. Bundled by the server on its own (a worklet
// module cannot share the page's bundle).
import { CaptureFramer, FRAME_MS } from "./capture.js";
import { PlaybackQueue, type MarkEcho } from "./playback.js";
import { PHONE_PROCESSOR, type WorkletCommand, type WorkletEvent } from "./worklet-messages.js";

// The AudioWorkletGlobalScope, which no TypeScript lib describes.
declare const sampleRate: number;
interface WorkletPort {
  postMessage(message: WorkletEvent, transfer?: ArrayBuffer[]): void;
  onmessage: ((event: { data: WorkletCommand }) => void) | null;
}
declare class AudioWorkletProcessor {
  readonly port: WorkletPort;
}
declare function registerProcessor(name: string, processor: new () => AudioWorkletProcessor): void;

/** Samples of the audio clock as ms. */
const toMs = (samples: number) => (samples / sampleRate) * 1000;

/** How often the state goes to the page while nothing changes: about every 50 ms. */
const STATE_EVERY_SAMPLES = Math.round(sampleRate / 20);

class PhoneProcessor extends AudioWorkletProcessor {
  private readonly capture = new CaptureFramer(sampleRate);
  private readonly playback = new PlaybackQueue(sampleRate);
  private muted = false;
  private silence = new Float32Array(128);
  private sinceState = 0;

  constructor() {
    super();
    this.port.onmessage = (event) => this.command(event.data);
  }

  process(inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    const speaker = outputs[0]!;
    const block = speaker[0]!;
    // Before the microphone delivers (or after its track ends), its input has no channels: silence.
    if (this.silence.length !== block.length) this.silence = new Float32Array(block.length);
    const microphone = inputs[0]?.[0] ?? this.silence;
    const clock = this.capture.capturedSamples;
    for (const frame of this.capture.push(microphone, this.muted)) this.port.postMessage({ type: "frame", frame }, [frame.buffer as ArrayBuffer]);

    const wasPlaying = this.playback.playing;
    const { echoes, starts } = this.playback.render(block, clock);
    this.post(echoes);
    if (starts.length > 0) this.port.postMessage({ type: "starts", starts: starts.map(({ name, startedAt }) => ({ name, startedAtMs: toMs(startedAt) })) });
    for (let channel = 1; channel < speaker.length; channel++) speaker[channel]!.set(block);
    this.sinceState += block.length;
    if (wasPlaying !== this.playback.playing || this.sinceState >= STATE_EVERY_SAMPLES) this.sendState();
    return true;
  }

  private command(command: WorkletCommand): void {
    switch (command.type) {
      case "audio":
        this.playback.pushAudio(command.bytes);
        return;
      case "mark":
        this.playback.pushMark(command.name);
        return;
      case "clear":
        // At once, not at the next block: the queue empties and its marks go back.
        this.post(this.playback.clear());
        this.sendState();
        return;
      case "mute":
        this.muted = command.muted;
        return;
    }
  }

  private post(echoes: MarkEcho[]): void {
    if (echoes.length === 0) return;
    this.port.postMessage({ type: "echoes", echoes: echoes.map(({ startedAt, ...echo }) => ({ ...echo, startedAtMs: startedAt === null ? null : toMs(startedAt) })) });
  }

  private sendState(): void {
    this.sinceState = 0;
    const { queuedMs, playing, clears } = this.playback;
    this.port.postMessage({ type: "state", state: { queuedMs, playing, clears, voicedMs: this.capture.voicedFrames * FRAME_MS, clockMs: this.capture.clockMs } });
  }
}

registerProcessor(PHONE_PROCESSOR, PhoneProcessor);
