import { MULAW_SILENCE, pcmToMulaw } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import { UtteranceTracker, type UtteranceEvent } from "./utterances.js";

/** A 300 Hz tone at about -15 dBFS: speech by energy. */
function tone(ms: number): Uint8Array {
  const pcm = new Int16Array(ms * 8).map((_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 300 * i) / 8000)));
  return pcmToMulaw(pcm);
}
const silence = (ms: number) => new Uint8Array(ms * 8).fill(MULAW_SILENCE);

function run(parts: Uint8Array[], chunkBytes = 160): UtteranceEvent[] {
  const tracker = new UtteranceTracker();
  const events: UtteranceEvent[] = [];
  for (const part of parts) for (let at = 0; at < part.length; at += chunkBytes) events.push(...tracker.push(part.subarray(at, at + chunkBytes)));
  return [...events, ...tracker.flush()];
}

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
    expect(run(parts, 37)).toEqual(run(parts, 160));
    expect(run(parts, 4000)).toEqual(run(parts, 160));
  });

  it("keeps a 280 ms pause inside the utterance, and ignores a 40 ms click", () => {
    const events = run([tone(300), silence(280), tone(300), silence(500), tone(40), silence(500)]);
    expect(events.filter((e) => e.kind === "final")).toEqual([{ kind: "final", utterance: 0, endMs: 880, atMs: 1180 }]);
  });

  it("finishes an utterance still open when the audio ends", () => {
    expect(run([tone(500)]).at(-1)).toEqual({ kind: "final", utterance: 0, endMs: 500, atMs: 500 });
  });
});
