// The call as the two ends heard it, one 20 ms frame per clock tick on each side, and its stereo WAV.
import { FRAME_BYTES, MULAW_SILENCE, SAMPLE_RATE, WAV_FORMAT_PCM, buildWav, mulawToPcm, pcmBytes } from "@voice/protocol";

export interface CallRecording {
  /** mu-law the caller sent, one frame per tick. */
  caller: Uint8Array;
  /** mu-law the caller heard (silence when nothing played), aligned with `caller`. */
  agent: Uint8Array;
}

const SILENT_FRAME = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);

export class CallRecorder {
  private readonly caller: Uint8Array[] = [];
  private readonly agent: Uint8Array[] = [];

  addTick(callerFrame: Uint8Array, agentFrame: Uint8Array | null): void {
    this.caller.push(callerFrame);
    this.agent.push(agentFrame ?? SILENT_FRAME);
  }

  finish(): CallRecording {
    return { caller: concat(this.caller), agent: concat(this.agent) };
  }
}

/** 16-bit stereo PCM WAV at 8 kHz: caller on the left, agent on the right. */
export function stereoCallWav(recording: CallRecording): Uint8Array {
  const left = mulawToPcm(recording.caller);
  const right = mulawToPcm(recording.agent);
  const frames = Math.max(left.length, right.length);
  const interleaved = new Int16Array(frames * 2);
  for (let i = 0; i < frames; i++) {
    interleaved[2 * i] = left[i] ?? 0;
    interleaved[2 * i + 1] = right[i] ?? 0;
  }
  return buildWav(
    { audioFormat: WAV_FORMAT_PCM, channels: 2, sampleRate: SAMPLE_RATE, bitsPerSample: 16 },
    pcmBytes(interleaved),
  );
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
