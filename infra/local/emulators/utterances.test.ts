import { MULAW_SILENCE, pcmToMulaw } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import { DEFAULT_UTTERANCE_TIMING, UtteranceTracker, type UtteranceEvent, type UtteranceTiming } from "./utterances.js";

/** A 300 Hz tone at about -15 dBFS: speech by energy. */
function tone(ms: number): Uint8Array {
  const pcm = new Int16Array(ms * 8).map((_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 300 * i) / 8000)));
  return pcmToMulaw(pcm);
}
const silence = (ms: number) => new Uint8Array(ms * 8).fill(MULAW_SILENCE);

function allEvents(parts: Uint8Array[], chunkBytes = 160, timing?: Partial<UtteranceTiming>): UtteranceEvent[] {
  const tracker = new UtteranceTracker({ ...DEFAULT_UTTERANCE_TIMING, ...timing });
  const events: UtteranceEvent[] = [];
  for (const part of parts) for (let at = 0; at < part.length; at += chunkBytes) events.push(...tracker.push(part.subarray(at, at + chunkBytes)));
  return [...events, ...tracker.flush()];
}

/** The results the events call for (partials, finals, ignored bursts), without the frame-by-frame progress. */
const run = (...args: Parameters<typeof allEvents>) => allEvents(...args).filter((event) => event.kind !== "progress");

describe("UtteranceTracker", () => {
  it("times partials and the final on the audio clock", () => {
    const events = run([silence(100), tone(700), silence(400)]);
    expect(events).toEqual([
      { kind: "partial", utterance: 0, speechMs: 200, atMs: 300 },
      { kind: "partial", utterance: 0, speechMs: 400, atMs: 500 },
      { kind: "partial", utterance: 0, speechMs: 600, atMs: 700 },
      { kind: "final", utterance: 0, endMs: 800, atMs: 1100 },
    ]);
  });

  it("does not care how the bytes are chunked", () => {
    const parts = [silence(100), tone(700), silence(400)];
    expect(allEvents(parts, 37)).toEqual(allEvents(parts, 160));
    expect(allEvents(parts, 4000)).toEqual(allEvents(parts, 160));
  });

  it("keeps a 280 ms pause inside the utterance, and ignores a 40 ms click", () => {
    const events = run([tone(300), silence(280), tone(300), silence(500), tone(40), silence(500)]);
    expect(events.filter((e) => e.kind === "final")).toEqual([{ kind: "final", utterance: 0, endMs: 880, atMs: 1180 }]);
  });

  it("gives a 150 ms burst no result and no utterance index; the next utterance is still the first", () => {
    const events = run([silence(200), tone(150), silence(610), tone(400), silence(400)]);
    expect(events).toEqual([
      { kind: "ignored", startMs: 200, endMs: 360, atMs: 660 },
      { kind: "partial", utterance: 0, speechMs: 200, atMs: 1160 },
      { kind: "partial", utterance: 0, speechMs: 400, atMs: 1360 },
      { kind: "final", utterance: 0, endMs: 1360, atMs: 1660 },
    ]);
  });

  it("holds the first partial until the burst is minSpeechMs long, and ignores a short burst at the end", () => {
    const events = run([tone(500), silence(400), tone(100)], 160, { firstPartialAfterMs: 100, minSpeechMs: 300 });
    expect(events.slice(0, 2)).toEqual([
      { kind: "partial", utterance: 0, speechMs: 300, atMs: 300 },
      { kind: "partial", utterance: 0, speechMs: 500, atMs: 500 },
    ]);
    expect(events.slice(2).map((e) => e.kind)).toEqual(["final", "ignored"]);
  });

  it("reports the utterance's progress on every frame once it is long enough, through a short pause, and not on the frame that ends it", () => {
    const events = allEvents([silence(100), tone(300), silence(200), tone(100), silence(300)]);
    const progress = events.filter((event) => event.kind === "progress");
    // From minSpeechMs (200 ms of speech, at 300 ms) to the last frame before the final, 20 ms apart, pause frames included.
    expect(progress.map((event) => event.atMs)).toEqual(Array.from({ length: (980 - 300) / 20 + 1 }, (_, i) => 300 + i * 20));
    expect(progress.every((event) => event.kind === "progress" && event.utterance === 0 && event.speechMs === event.atMs - 100)).toBe(true);
    expect(events.at(-1)).toEqual({ kind: "final", utterance: 0, endMs: 700, atMs: 1000 });
  });

  it("finishes an utterance still open when the audio ends", () => {
    expect(run([tone(500)]).at(-1)).toEqual({ kind: "final", utterance: 0, endMs: 500, atMs: 500 });
  });
});
