import { describe, expect, it } from "vitest";
import type { SttHealth } from "../stt/types.js";
import { RecognitionWatch, type SttView } from "./recognition-watch.js";

const BACKCHANNEL_MAX_MS = 600;

function stt(health: SttHealth = "ok", errors = 0, reopens = 0, lastResultEndMs?: number): SttView {
  return { health, stats: { errors, reopens, rotations: 0 }, lastResultEndMs };
}

describe("RecognitionWatch", () => {
  it("counts an utterance's retries from its start", () => {
    const watch = new RecognitionWatch(BACKCHANNEL_MAX_MS);
    watch.speechStarted(stt("ok", 2, 2));
    expect(watch.retries(stt("ok", 3, 3))).toBe(1);
  });

  it("suspects a stream whose results stopped well before the end of speech, once per utterance", () => {
    const watch = new RecognitionWatch(BACKCHANNEL_MAX_MS);
    watch.speechStarted(stt());
    const utterance = { startMs: 1000, endMs: 3000, voicedMs: 1800, heardResult: true };
    expect(watch.hungStream(utterance, stt("ok", 0, 0, 2500))).toBeUndefined(); // 500 ms behind: normal
    expect(watch.hungStream(utterance, stt("ok", 0, 0, 1600))).toBe("results stopped 1400 ms before the end of speech");
    expect(watch.hungStream(utterance, stt("ok", 0, 0, 1600))).toBeUndefined();
  });

  it("suspects a stream that said nothing about a long utterance, not about a short one", () => {
    const watch = new RecognitionWatch(BACKCHANNEL_MAX_MS);
    watch.speechStarted(stt());
    expect(watch.hungStream({ startMs: 0, endMs: 500, voicedMs: 400, heardResult: false }, stt())).toBeUndefined();
    expect(watch.hungStream({ startMs: 0, endMs: 1500, voicedMs: 1200, heardResult: false }, stt())).toBe(
      "no result for an utterance of 1200 ms of voiced audio",
    );
  });

  it("sends an utterance to the fallback when recognition is down or failed during it, not for noise", () => {
    const watch = new RecognitionWatch(BACKCHANNEL_MAX_MS);
    watch.speechStarted(stt("ok", 1, 1));
    expect(watch.needsFallback({ voicedMs: 900 }, stt("ok", 1, 1), false)).toBe(false); // nothing failed: noise
    watch.speechStarted(stt("ok", 1, 1));
    expect(watch.needsFallback({ voicedMs: 900 }, stt("ok", 2, 2), false)).toBe(true); // a stream failed during it
    watch.speechStarted(stt("down", 5, 4));
    expect(watch.needsFallback({ voicedMs: 900 }, stt("down", 5, 4), false)).toBe(true);
  });

  it("takes a suspected stream that stays silent for noise, unless it happens twice in a row", () => {
    const watch = new RecognitionWatch(BACKCHANNEL_MAX_MS);
    const silent = { startMs: 0, endMs: 1500, voicedMs: 1200, heardResult: false };
    watch.speechStarted(stt());
    expect(watch.hungStream(silent, stt())).toBeDefined();
    expect(watch.needsFallback(silent, stt("recovering", 1, 1), false)).toBe(false);
    watch.speechStarted(stt("recovering", 1, 1));
    expect(watch.hungStream({ ...silent, startMs: 5000, endMs: 6500 }, stt("recovering", 1, 1))).toBeDefined();
    expect(watch.needsFallback(silent, stt("recovering", 2, 2), false)).toBe(true);
    // A transcript in between starts the count over.
    watch.speechStarted(stt("recovering", 2, 2));
    watch.hungStream({ ...silent, startMs: 9000, endMs: 10_500 }, stt("recovering", 2, 2));
    watch.transcribed();
    expect(watch.needsFallback(silent, stt("recovering", 3, 3), false)).toBe(false);
  });

  it("does not cut the agent's answer for a short unheard utterance (maybe a backchannel)", () => {
    const watch = new RecognitionWatch(BACKCHANNEL_MAX_MS);
    watch.speechStarted(stt("down"));
    expect(watch.needsFallback({ voicedMs: 300 }, stt("down"), true)).toBe(false);
    expect(watch.needsFallback({ voicedMs: 300 }, stt("down"), false)).toBe(true);
    expect(watch.needsFallback({ voicedMs: 900 }, stt("down"), true)).toBe(true);
  });

  it("after going down, lets the next utterance go to the fallback, and tries the recognizer on the one after", () => {
    const watch = new RecognitionWatch(BACKCHANNEL_MAX_MS);
    watch.wentDown();
    expect(watch.speechStarted(stt("down"))).toBe(false); // this one goes to the fallback
    watch.fellBack();
    expect(watch.speechStarted(stt("down"))).toBe(true);
    expect(watch.speechStarted(stt("ok"))).toBe(false);
  });
});
