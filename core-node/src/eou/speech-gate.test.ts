import { describe, expect, it } from "vitest";
import { FRAME_BYTES, levelDbfs, mulawToPcm, pcmToMulaw } from "@voice/protocol";
import { synthesizeSpeech } from "../../../infra/speech/espeak.js";
import { SpeechGate } from "./speech-gate.js";
import { loadVad } from "./vad.js";

/** Index of the last frame for which `isSpeech` is true. */
function lastSpeechFrame(flags: boolean[]): number {
  return flags.lastIndexOf(true);
}

describe("SpeechGate", () => {
  it("measures a frame's level in dBFS", () => {
    expect(levelDbfs(new Int16Array(FRAME_BYTES))).toBe(Number.NEGATIVE_INFINITY);
    expect(levelDbfs(new Int16Array(FRAME_BYTES).fill(32767))).toBeCloseTo(0, 1);
    expect(levelDbfs(new Int16Array(FRAME_BYTES).fill(3277))).toBeCloseTo(-20, 1);
  });

  it("ends speech where the audio ends, not where the VAD's own hangover ends", async () => {
    const vad = (await loadVad()).create(2);
    const speech = await synthesizeSpeech("שלום, מה שעות הפתיחה שלכם?", { voice: "he", sampleRate: 8000 });
    const audio = mulawToPcm(pcmToMulaw(new Int16Array([...speech, ...new Int16Array(FRAME_BYTES * 20)])));
    const gate = new SpeechGate();
    const raw: boolean[] = [];
    const gated: boolean[] = [];
    const loud: boolean[] = [];
    for (let at = 0; at + FRAME_BYTES <= audio.length; at += FRAME_BYTES) {
      const frame = audio.subarray(at, at + FRAME_BYTES);
      const voiced = vad.isVoiced(frame);
      const level = levelDbfs(frame);
      raw.push(voiced);
      gated.push(gate.isSpeech(voiced, level));
      loud.push(level > -50);
    }
    // The VAD alone runs on past the end of the speech...
    expect(lastSpeechFrame(raw) - lastSpeechFrame(loud)).toBeGreaterThanOrEqual(3);
    // ...the gate stops with it, and keeps the speech itself.
    expect(Math.abs(lastSpeechFrame(gated) - lastSpeechFrame(loud))).toBeLessThanOrEqual(1);
    const kept = gated.filter(Boolean).length / raw.filter(Boolean).length;
    expect(kept).toBeGreaterThan(0.8);
  });

  it("rejects line noise far below the speech before it, keeps quieter sounds within range", () => {
    const gate = new SpeechGate({ floorDbfs: -55, rangeDb: 30, decayDbPerFrame: 1 });
    expect(gate.isSpeech(true, -15)).toBe(true);
    expect(gate.isSpeech(true, -40)).toBe(true); // a soft consonant
    expect(gate.isSpeech(true, -50)).toBe(false); // the VAD's hangover over line noise
    expect(gate.isSpeech(false, -15)).toBe(false); // the VAD decides what is voice
    expect(gate.isSpeech(true, -60)).toBe(false); // below the floor
  });

  it("forgets a loud peak, so a quieter caller is heard again soon after", () => {
    const gate = new SpeechGate({ floorDbfs: -55, rangeDb: 30, decayDbPerFrame: 1 });
    gate.isSpeech(true, -5);
    expect(gate.isSpeech(true, -45)).toBe(false);
    for (let i = 0; i < 15; i++) gate.isSpeech(false, -70); // 300 ms of silence
    expect(gate.isSpeech(true, -45)).toBe(true);
  });
});
