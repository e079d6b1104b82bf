import { describe, expect, it } from "vitest";
import { FRAME_BYTES } from "@voice/protocol";
import { OutboundFrames } from "../audio/frames.js";
import type { Synthesized } from "./cache.js";
import { Speaker } from "./speaker.js";

/** Synthesis whose completion each test controls: `resolve(text)` delivers 2 frames of audio; `cached` texts come at once. */
function controlledSynthesis(cached: string[] = []) {
  const waiting = new Map<string, { resolve: (s: Synthesized) => void; reject: (e: Error) => void; signal: AbortSignal }>();
  return {
    synthesize: (text: string, signal: AbortSignal) =>
      cached.includes(text)
        ? Promise.resolve({ audio: new Uint8Array(FRAME_BYTES), cacheHit: true })
        : new Promise<Synthesized>((resolve, reject) => waiting.set(text, { resolve, reject, signal })),
    resolve: (text: string, cacheHit = false) => waiting.get(text)!.resolve({ audio: new Uint8Array(FRAME_BYTES * 2), cacheHit }),
    reject: (text: string) => waiting.get(text)!.reject(new Error("tts down")),
    signal: (text: string) => waiting.get(text)!.signal,
  };
}

function setup(onMarkHook: (name: string) => void = () => {}, fallbackText?: string, held = false) {
  const synthesis = controlledSynthesis(fallbackText ? [fallbackText] : []);
  const sent: string[] = [];
  const marks: Array<[string, string | undefined]> = [];
  const errors: string[] = [];
  let clock = 0;
  const speaker = new Speaker({
    turn: 3,
    frames: new OutboundFrames("MZ1"),
    synthesize: synthesis.synthesize,
    send: (frame) => sent.push(JSON.parse(frame).event === "mark" ? `mark ${JSON.parse(frame).mark.name}` : "media"),
    onMark: (name, sentence) => {
      marks.push([name, sentence]);
      onMarkHook(name);
    },
    onError: (sentence, _error, replaced) => errors.push(replaced ? `${sentence} (replaced)` : sentence),
    fallbackText,
    now: () => ++clock,
    held,
  });
  return { speaker, synthesis, sent, marks, errors };
}

describe("Speaker", () => {
  it("held: synthesizes at once but sends nothing until released, then all of it in order", async () => {
    const { speaker, synthesis, sent } = setup(undefined, undefined, true);
    speaker.say("ראשון.");
    speaker.say("שני.");
    synthesis.resolve("ראשון.");
    synthesis.resolve("שני.");
    const finished = speaker.finish();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toEqual([]);
    speaker.release();
    await finished;
    expect(sent).toEqual(["media", "media", "mark 3.1:ראשון.", "media", "media", "mark 3.2:שני.", "mark 3.end"]);
    // The first audio is timed from its synthesis, however long it waited to be released.
    expect(speaker.firstAudio!.firstFrameAt).toBeGreaterThan(speaker.firstAudio!.ttsReadyAt);
  });

  it("held and aborted: nothing is ever sent, the syntheses are cancelled, finish() resolves", async () => {
    const { speaker, synthesis, sent } = setup(undefined, undefined, true);
    speaker.say("ראשון.");
    speaker.say("שני.");
    synthesis.resolve("ראשון.");
    const finished = speaker.finish();
    speaker.abort();
    await finished;
    expect(synthesis.signal("שני.").aborted).toBe(true);
    speaker.release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toEqual([]);
    expect(speaker.spoken).toEqual([]);
  });

  it("plays sentences in order even when a later one is synthesized first, then the end mark", async () => {
    const { speaker, synthesis, sent, marks } = setup();
    speaker.say("ראשון.");
    speaker.say("שני.");
    synthesis.resolve("שני.");
    synthesis.resolve("ראשון.");
    await speaker.finish();
    expect(sent).toEqual(["media", "media", "mark 3.1:ראשון.", "media", "media", "mark 3.2:שני.", "mark 3.end"]);
    expect(marks).toEqual([
      ["3.1:ראשון.", "ראשון."],
      ["3.2:שני.", "שני."],
      ["3.end", undefined],
    ]);
    expect(speaker.spoken).toEqual(["ראשון.", "שני."]);
    expect(speaker.firstAudio).toMatchObject({ cacheHit: false });
    const first = speaker.firstAudio!;
    expect(first.ttsRequestedAt).toBeLessThan(first.ttsReadyAt);
    expect(first.ttsReadyAt).toBeLessThanOrEqual(first.firstFrameAt);
  });

  it("skips a sentence whose synthesis failed and goes on", async () => {
    const { speaker, synthesis, sent, errors } = setup();
    speaker.say("a.");
    speaker.say("b.");
    synthesis.reject("a.");
    synthesis.resolve("b.");
    await speaker.finish();
    expect(errors).toEqual(["a."]);
    expect(sent).toEqual(["media", "media", "mark 3.2:b.", "mark 3.end"]);
    expect(speaker.failures).toBe(1);
  });

  it("speaks the fallback phrase in place of a sentence that failed, and ends the answer there", async () => {
    const { speaker, synthesis, sent, errors } = setup(undefined, "סליחה.");
    speaker.say("a.");
    speaker.say("b.");
    speaker.say("c.");
    synthesis.resolve("a.");
    synthesis.reject("b.");
    synthesis.resolve("c.");
    await speaker.finish();
    expect(errors).toEqual(["b. (replaced)"]);
    expect(sent).toEqual(["media", "media", "mark 3.1:a.", "media", "mark 3.2:סליחה.", "mark 3.end"]);
    expect(speaker.spoken).toEqual(["a.", "סליחה."]);
    expect(speaker.fellBack).toBe(true);
    expect(speaker.accepting).toBe(false);
    speaker.say("d.");
    expect(speaker.sentenceCount).toBe(3);
  });

  it("sends nothing more once aborted, not even the end mark", async () => {
    let firstPlayed!: () => void;
    const played = new Promise<void>((resolve) => (firstPlayed = resolve));
    const { speaker, synthesis, sent } = setup((name) => name === "3.1:a." && firstPlayed());
    speaker.say("a.");
    speaker.say("b.");
    synthesis.resolve("a.");
    await played;
    speaker.abort();
    synthesis.resolve("b.");
    speaker.say("c.");
    await speaker.finish();
    expect(sent).toEqual(["media", "media", "mark 3.1:a."]);
    expect(speaker.spoken).toEqual(["a."]);
  });

  it("finishes at once on abort even while a synthesis hangs, and cancels that synthesis", async () => {
    const { speaker, synthesis, sent } = setup();
    speaker.say("never answered.");
    const finished = speaker.finish();
    expect(synthesis.signal("never answered.").aborted).toBe(false);
    speaker.abort();
    await finished;
    expect(sent).toEqual([]);
    expect(synthesis.signal("never answered.").aborted).toBe(true);
  });

  it("counts sentences played from the cache and those synthesized", async () => {
    const { speaker, synthesis } = setup();
    speaker.say("a.");
    speaker.say("b.");
    synthesis.resolve("a.", true);
    synthesis.resolve("b.");
    await speaker.finish();
    expect([speaker.cacheHits, speaker.syntheses]).toEqual([1, 1]);
    expect(speaker.firstAudio?.cacheHit).toBe(true);
  });
});
