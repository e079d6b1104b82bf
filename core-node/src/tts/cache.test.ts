import { describe, expect, it } from "vitest";
import { CachedTextToSpeech, TtsCache, cacheKey } from "./cache.js";
import { synthesisRequest, type SynthesisRequest, type TextToSpeech } from "./types.js";

const voice = { languageCode: "he-IL", name: "he-IL-Wavenet-A" };

/** A synthesizer that records its requests; the "audio" is the text's bytes. */
function countingTts() {
  const requests: SynthesisRequest[] = [];
  const tts: TextToSpeech = {
    async synthesize(request) {
      requests.push(request);
      await Promise.resolve();
      return new TextEncoder().encode(request.input.text);
    },
    async listVoices() {
      return [voice.name];
    },
  };
  return { tts, requests };
}

describe("cacheKey", () => {
  it("is the same for the same request however its keys are ordered", () => {
    const a = synthesisRequest("שלום", voice);
    const b = {
      audioConfig: { sampleRateHertz: 8000, audioEncoding: "MULAW" },
      voice: { name: voice.name, languageCode: "he-IL" },
      input: { text: "שלום" },
    } as const;
    expect(cacheKey(a)).toBe(cacheKey(b));
    expect(cacheKey(a)).toMatch(/^[0-9a-f]{64}$/);
  });

  it("changes with the text, the voice or the language", () => {
    const base = cacheKey(synthesisRequest("שלום", voice));
    expect(cacheKey(synthesisRequest("שלום.", voice))).not.toBe(base);
    expect(cacheKey(synthesisRequest("שלום", { ...voice, name: "he-IL-Wavenet-B" }))).not.toBe(base);
    expect(cacheKey(synthesisRequest("שלום", { ...voice, languageCode: "en-US" }))).not.toBe(base);
  });
});

describe("TtsCache", () => {
  it("evicts the least recently used entries to stay within its byte budget", () => {
    const cache = new TtsCache(10);
    cache.set("a", new Uint8Array(4));
    cache.set("b", new Uint8Array(4));
    cache.get("a"); // a is now more recent than b
    cache.set("c", new Uint8Array(4));
    expect(cache.get("b")).toBeUndefined();
    expect(cache.get("a")).toHaveLength(4);
    expect(cache.get("c")).toHaveLength(4);
    expect(cache.bytes).toBe(8);
    expect(cache.size).toBe(2);
  });

  it("replaces an entry without counting it twice, and skips audio larger than the budget", () => {
    const cache = new TtsCache(10);
    cache.set("a", new Uint8Array(4));
    cache.set("a", new Uint8Array(6));
    expect(cache.bytes).toBe(6);
    cache.set("huge", new Uint8Array(11));
    expect(cache.get("huge")).toBeUndefined();
    expect(cache.get("a")).toHaveLength(6);
  });
});

describe("pinned audio", () => {
  it("counts against the budget but is never evicted, however much else is stored", () => {
    const cache = new TtsCache(10);
    cache.set("a", new Uint8Array(3));
    cache.pin("greeting", new Uint8Array(4));
    cache.set("b", new Uint8Array(3));
    expect(cache.bytes).toBe(10);
    for (let i = 0; i < 50; i++) cache.set(`other ${i}`, new Uint8Array(3));
    expect(cache.get("greeting")).toHaveLength(4);
    expect(cache.get("a")).toBeUndefined();
    expect(cache.bytes).toBeLessThanOrEqual(10);
    expect([cache.pinnedCount, cache.pinnedBytes]).toEqual([1, 4]);
    // What cannot fit beside the pinned audio is not kept, and pushes nothing out.
    cache.set("other 49", new Uint8Array(3));
    cache.set("too big", new Uint8Array(7));
    expect(cache.get("too big")).toBeUndefined();
    expect(cache.get("other 49")).toHaveLength(3);
  });

  it("moves an entry out of the LRU order when pinned, and keeps the pin when set again", () => {
    const cache = new TtsCache(10);
    cache.set("a", new Uint8Array(4));
    cache.pin("a", new Uint8Array(4));
    expect(cache.bytes).toBe(4);
    cache.set("a", new Uint8Array(5));
    for (let i = 0; i < 10; i++) cache.set(`other ${i}`, new Uint8Array(5));
    expect(cache.get("a")).toHaveLength(5);
    expect([cache.size, cache.bytes, cache.pinnedBytes]).toEqual([2, 10, 5]);
  });
});

describe("CachedTextToSpeech", () => {
  it("keeps pinned phrases as cache hits after far more new texts than the cache holds", async () => {
    const { tts, requests } = countingTts();
    const pinnedTexts = ["שלום, הגעתם למרפאה", "סליחה, משהו השתבש", "השיחה מסתיימת"];
    const budget = pinnedTexts.reduce((sum, text) => sum + new TextEncoder().encode(text).length, 0) + 64;
    const cache = new TtsCache(budget);
    const speech = new CachedTextToSpeech(tts, cache, voice);
    await Promise.all(pinnedTexts.map((text) => speech.pin(text)));
    // Many unique answers: together several times the cache's size.
    for (let i = 0; i < 40; i++) expect((await speech.synthesize(`תשובה חדשה מספר ${i}`)).cacheHit).toBe(false);
    expect(cache.bytes).toBeLessThanOrEqual(budget);
    expect((await speech.synthesize("תשובה חדשה מספר 0")).cacheHit).toBe(false); // the early answers went
    const before = requests.length;
    for (const text of pinnedTexts) expect(await speech.synthesize(text)).toEqual({ audio: new TextEncoder().encode(text), cacheHit: true });
    expect(requests).toHaveLength(before);
  });

  it("serves a repeated phrase from the cache and shares concurrent requests", async () => {
    const { tts, requests } = countingTts();
    const speech = new CachedTextToSpeech(tts, new TtsCache(1024), voice);
    const [first, second] = await Promise.all([speech.synthesize("שלום"), speech.synthesize("שלום")]);
    expect(requests).toHaveLength(1);
    expect(first.cacheHit).toBe(false);
    expect(second.audio).toEqual(first.audio);
    const third = await speech.synthesize("שלום");
    expect(third).toEqual({ audio: first.audio, cacheHit: true });
    expect(requests).toEqual([synthesisRequest("שלום", voice)]);
  });

  it("does not cache a failure", async () => {
    let fail = true;
    const tts: TextToSpeech = {
      async synthesize(request) {
        if (fail) throw new Error("unavailable");
        return new TextEncoder().encode(request.input.text);
      },
      async listVoices() {
        return [];
      },
    };
    const speech = new CachedTextToSpeech(tts, new TtsCache(1024), voice);
    await expect(speech.synthesize("x")).rejects.toThrow("unavailable");
    fail = false;
    expect((await speech.synthesize("x")).cacheHit).toBe(false);
  });

  it("keys the cache by a hash of exactly the request sent to the service", async () => {
    const { tts, requests } = countingTts();
    const cache = new TtsCache(1024);
    await new CachedTextToSpeech(tts, cache, voice).synthesize("בוקר טוב");
    // What warmup stored is found by a turn sending the same request: the key is the request's hash.
    expect(cache.get(cacheKey(requests[0]!))).toEqual(new TextEncoder().encode("בוקר טוב"));
    expect(requests[0]).toEqual({
      input: { text: "בוקר טוב" },
      voice: { languageCode: "he-IL", name: "he-IL-Wavenet-A" },
      audioConfig: { audioEncoding: "MULAW", sampleRateHertz: 8000 },
    });
  });

  describe("cancellation", () => {
    /** A synthesizer that never answers on its own and records cancellations. */
    function hangingTts() {
      const signals: AbortSignal[] = [];
      const finish: Array<() => void> = [];
      const tts: TextToSpeech = {
        synthesize(request, signal) {
          signals.push(signal!);
          return new Promise((resolve, reject) => {
            signal?.addEventListener("abort", () => reject(new Error("cancelled")));
            finish.push(() => resolve(new TextEncoder().encode(request.input.text)));
          });
        },
        async listVoices() {
          return [];
        },
      };
      return { tts, signals, finish };
    }

    it("stops waiting at once on abort and cancels the request nobody else waits for", async () => {
      const { tts, signals } = hangingTts();
      const speech = new CachedTextToSpeech(tts, new TtsCache(1024), voice);
      const caller = new AbortController();
      const pending = speech.synthesize("ארוך", caller.signal);
      caller.abort(new Error("barge-in"));
      await expect(pending).rejects.toThrow("barge-in");
      expect(signals[0]!.aborted).toBe(true);
    });

    it("keeps a shared request going while another caller still waits, and caches its audio", async () => {
      const { tts, signals, finish } = hangingTts();
      const cache = new TtsCache(1024);
      const speech = new CachedTextToSpeech(tts, cache, voice);
      const leaving = new AbortController();
      const left = speech.synthesize("משותף", leaving.signal);
      const staying = speech.synthesize("משותף");
      leaving.abort(new Error("barge-in"));
      await expect(left).rejects.toThrow("barge-in");
      expect(signals).toHaveLength(1);
      expect(signals[0]!.aborted).toBe(false);
      finish[0]!();
      expect((await staying).cacheHit).toBe(false);
      expect((await speech.synthesize("משותף")).cacheHit).toBe(true);
    });

    it("refuses at once when already aborted, without a request", async () => {
      const { tts, signals } = hangingTts();
      const speech = new CachedTextToSpeech(tts, new TtsCache(1024), voice);
      await expect(speech.synthesize("x", AbortSignal.abort())).rejects.toThrow();
      expect(signals).toEqual([]);
    });
  });
});
