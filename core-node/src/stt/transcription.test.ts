import { describe, expect, it } from "vitest";
import { WAV_FORMAT_PCM, mulawToPcm, parseWav, pcmFromBytes } from "@voice/protocol";
import { utteranceWav } from "./transcription.js";

describe("utteranceWav", () => {
  it("wraps the caller's mu-law as the 16-bit PCM WAV the transcription API takes", () => {
    const mulaw = Uint8Array.from({ length: 800 }, (_, i) => (i * 7) % 256); // 100 ms
    const { format, data } = parseWav(utteranceWav(mulaw));
    expect(format).toEqual({ audioFormat: WAV_FORMAT_PCM, channels: 1, sampleRate: 8000, bitsPerSample: 16 });
    expect(pcmFromBytes(data)).toEqual(mulawToPcm(mulaw));
  });
});
