// The phrases warmup synthesized (greeting, CALL_LIMIT_TEXT, FIXED_PHRASES) stay in the TTS cache
// whatever callers ask for: a token holder's stream of new texts through GET /phrase fills the cache
// past its size, and the greeting and the apologies are still served without a synthesis.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PHRASE_PATH, signCoreToken } from "@voice/protocol";
import { DEFAULT_CALL_LIMIT_TEXT, DEFAULT_FIXED_PHRASES } from "../config.js";
import { TEST_GREETING, TEST_SECRET, startCore, type CoreUnderTest } from "../../testing/core-harness.js";

/** Room for the pinned phrases (~5 phrases of a few seconds: ~150 KB of mu-law) and a little more. */
const CACHE_BYTES = 300_000;
const PINNED = [TEST_GREETING, DEFAULT_CALL_LIMIT_TEXT, ...Object.values(DEFAULT_FIXED_PHRASES)];

let core: CoreUnderTest;
let base: string;

beforeAll(async () => {
  core = await startCore({ env: { TTS_CACHE_MAX_BYTES: String(CACHE_BYTES), PHRASE_MAX_UNCACHED_PER_MIN: "1000" } });
  base = `http://127.0.0.1:${core.server.port}`;
});

afterAll(async () => {
  await core?.close();
});

const phrase = async (text: string) => {
  const token = await signCoreToken(TEST_SECRET, "phrase", "warmup", Date.now());
  return fetch(`${base}${PHRASE_PATH}?text=${encodeURIComponent(text)}`, { headers: { Authorization: `Bearer ${token}` } });
};

describe("the phrases warmup synthesized", () => {
  it("are still cache hits after GET /phrase filled the cache past its size with other texts", async () => {
    const { app, emulators } = core;
    expect(app.ttsCache.pinnedCount).toBe(PINNED.length);
    expect(app.ttsCache.pinnedBytes).toBeLessThan(CACHE_BYTES);

    // New texts until their audio alone is more than the whole cache holds. (Not checked on the way:
    // a lookup counts as a use, and would keep the first text fresh.)
    const texts: string[] = [];
    let bytes = 0;
    for (let i = 0; i < 200 && bytes <= CACHE_BYTES; i++) {
      const text = `זו תשובה חדשה מספר ${i}, ארוכה מספיק כדי למלא את הזיכרון של השרת`;
      const response = await phrase(text);
      expect(response.status).toBe(200);
      bytes += (await response.arrayBuffer()).byteLength;
      texts.push(text);
    }
    expect(bytes).toBeGreaterThan(CACHE_BYTES);
    // The cache is full and evicting: the first of them is gone.
    expect(app.ttsCached(texts[0]!)).toBe(false);
    expect(app.ttsCache.bytes).toBeLessThanOrEqual(CACHE_BYTES);

    // Every pinned phrase is served from the cache: GET /phrase and a call's synthesis cost no request.
    const requests = emulators.tts.stats.requests;
    for (const text of PINNED) {
      expect(app.ttsCached(text), text).toBe(true);
      expect((await phrase(text)).status).toBe(200);
      expect((await app.tts.synthesize(text)).cacheHit, text).toBe(true);
    }
    expect(emulators.tts.stats.requests).toBe(requests);
  });
});
