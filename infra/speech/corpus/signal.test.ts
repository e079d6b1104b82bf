import { levelDbfs } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import { decimateByTwo, frameLevels, silencesWithin, timeWords, voicedFrames, voicedSpan } from "./signal.js";

const tone = (hz: number, rate: number, ms: number, amplitude = 8000) =>
  Int16Array.from({ length: (rate * ms) / 1000 }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate)));

/** Silences and bursts of a 500 Hz tone (words) in turn, starting with a silence: ms each, at 8 kHz. */
function bursts(pattern: number[]): Int16Array {
  const parts = pattern.map((ms, i) => (i % 2 === 1 ? tone(500, 8000, ms) : new Int16Array((8000 * ms) / 1000)));
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

const analyse = (pcm: Int16Array) => {
  const levels = frameLevels(pcm, 8000);
  return { levels, voiced: voicedFrames(levels, -60) };
};

describe("decimating 16 kHz to 8 kHz", () => {
  it("keeps the phone band and removes what would fold back into it", () => {
    const inBand = decimateByTwo(tone(1000, 16000, 200));
    const aliasing = decimateByTwo(tone(6000, 16000, 200));
    expect(inBand.length).toBe(1600);
    expect(levelDbfs(inBand.subarray(200, 1400))).toBeCloseTo(levelDbfs(tone(1000, 8000, 150)), 0);
    expect(levelDbfs(aliasing.subarray(200, 1400)) - levelDbfs(inBand.subarray(200, 1400))).toBeLessThan(-60);
  });
});

describe("finding the voice and timing words", () => {
  const { levels, voiced } = analyse(bursts([100, 300, 250, 250, 80, 300, 100]));

  it("spans the voice and finds the pauses a listener hears (not the short gap between two words)", () => {
    expect(voicedSpan(voiced)).toEqual({ startMs: 100, endMs: 1280 });
    expect(silencesWithin(voiced, voicedSpan(voiced))).toEqual([{ startMs: 400, endMs: 650 }]);
  });

  it("gives one word the whole voice", () => {
    expect(timeWords("hello", levels, voiced)).toEqual({ method: "single", words: [{ text: "hello", startMs: 100, endMs: 1280 }] });
  });

  it("splits words at the silences when there are as many as the words need", () => {
    const two = analyse(bursts([100, 300, 150, 300, 100]));
    expect(timeWords("three four", two.levels, two.voiced)).toEqual({
      method: "valleys",
      words: [
        { text: "three", startMs: 100, endMs: 400 },
        { text: "four", startMs: 550, endMs: 850 },
      ],
    });
  });

  it("spreads words by letters otherwise, never across a pause", () => {
    const timed = timeWords("a bb ccc dddd", levels, voiced);
    expect(timed.method).toBe("letters");
    expect(timed.words.map((w) => w.text)).toEqual(["a", "bb", "ccc", "dddd"]);
    expect(timed.words.some((w) => w.startMs < 400 && w.endMs > 650)).toBe(false);
    expect(timed.words.at(-1)!.endMs).toBe(1280);
  });
});
