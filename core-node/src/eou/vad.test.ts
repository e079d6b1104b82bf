import { describe, expect, it } from "vitest";
import { FRAME_BYTES, mulawToPcm, pcmToMulaw } from "@voice/protocol";
import { synthesizeSpeech } from "../../../infra/speech/espeak.js";
import { loadVad } from "./vad.js";

function verdicts(detect: (frame: Int16Array) => boolean, pcm: Int16Array): boolean[] {
  const out: boolean[] = [];
  for (let at = 0; at + FRAME_BYTES <= pcm.length; at += FRAME_BYTES) out.push(detect(pcm.subarray(at, at + FRAME_BYTES)));
  return out;
}

describe("WebRTC VAD", () => {
  it("hears speech as voiced and line silence as not, through the mu-law round trip", async () => {
    const vad = await loadVad();
    const detector = vad.create(2);
    const speech = mulawToPcm(pcmToMulaw(await synthesizeSpeech("שלום, מה שעות הפתיחה שלכם?", { voice: "he", sampleRate: 8000 })));
    const spoken = verdicts((f) => detector.isVoiced(f), speech);
    const silence = verdicts((f) => detector.isVoiced(f), new Int16Array(FRAME_BYTES * 25));
    expect(spoken.filter(Boolean).length / spoken.length).toBeGreaterThan(0.8);
    expect(silence.filter(Boolean)).toEqual([]);
    detector.close();
  });

  it("answers false for a frame of the wrong size and after close, without throwing", async () => {
    const vad = await loadVad();
    const detector = vad.create(3);
    expect(detector.isVoiced(new Int16Array(100))).toBe(false);
    detector.close();
    detector.close();
    expect(detector.isVoiced(new Int16Array(FRAME_BYTES))).toBe(false);
  });
});
