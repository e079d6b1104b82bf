// Script lines with timed words (recorded speech, whose words end where the recording says): partials
// come word by word as the caller's audio reaches each word's end, a pause included, on the real
// SpeechClient; bad timings are refused at registration, over HTTP too, with the reason.
import { pcmToMulaw } from "@voice/protocol";
import { afterAll, describe, expect, it } from "vitest";
import { startScriptRegistry } from "./script-registry.js";
import { scriptLines, type SpeechScriptLine } from "./speech-script.js";
import { BYTES_PER_MS, concat, emulatorPool, finals, silence, streamAudio, utterances } from "./speech-test-kit.js";

/** A 300 Hz tone at about -15 dBFS: speech to the emulator's energy tracker, starting and ending exactly where it is put. */
const tone = (ms: number) => pcmToMulaw(new Int16Array(ms * BYTES_PER_MS).map((_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 300 * i) / 8000))));

/** "Tuesday at nine thirty": speech 0-600 ms, a 240 ms pause (shorter than the 300 ms that ends an
 *  utterance) in which "at" ends, then speech 840-1340 ms. */
const SPEECH = () => concat([tone(600), silence(240), tone(500)]);
const SPEECH_MS = 1340;
const WORDS = [
  { text: "Tuesday", endMs: 560 },
  { text: "at", endMs: 720 },
  { text: "nine", endMs: 1000 },
  { text: "thirty", endMs: 1320 },
];
const LEAD_MS = 300;

describe("script lines with timed words", () => {
  const pool = emulatorPool();
  afterAll(() => pool.closeAll());

  it("sends a partial as the audio reaches each word's end, a word ending in a short pause included, then the line's final", async () => {
    const revised = { text: "Tuesday at 9:30", partials: "Tuesday at nine thirty", words: WORDS };
    const { emulator, client } = await pool.start({ script: [{ text: "Tuesday at nine thirty", words: WORDS }, revised] });
    const secondStartMs = LEAD_MS + SPEECH_MS + 800;
    const { results, error } = await streamAudio(client, concat([silence(LEAD_MS), SPEECH(), silence(800), SPEECH(), silence(800)]));

    expect(error).toBeUndefined();
    const groups = utterances(results);
    expect(groups).toHaveLength(2);
    groups.forEach((group, k) => {
      const speechStartMs = k === 0 ? LEAD_MS : secondStartMs;
      const partials = group.filter((r) => !r.isFinal);
      // One partial per word, nothing before the first word ends, never the same words twice.
      expect(partials.map((r) => r.transcript)).toEqual(["Tuesday", "Tuesday at", "Tuesday at nine", "Tuesday at nine thirty"]);
      // Each on the first 20 ms frame that reaches its word's end, so before the next word ends.
      partials.forEach((partial, i) => {
        expect(partial.endMs).toBeGreaterThanOrEqual(speechStartMs + WORDS[i]!.endMs);
        expect(partial.endMs).toBeLessThan(speechStartMs + Math.min(WORDS[i]!.endMs + 20, WORDS[i + 1]?.endMs ?? Infinity));
      });
      // "at" came while the caller paused, before the speech resumed at 840 ms.
      expect(partials[1]!.endMs).toBeLessThan(speechStartMs + 840);
      expect(group.at(-1)).toMatchObject({ isFinal: true, endMs: speechStartMs + SPEECH_MS });
    });
    expect(finals(results)).toEqual(["Tuesday at nine thirty", "Tuesday at 9:30"]);
    expect(emulator.stats.partialsSent).toBe(8);
  });

  it("refuses words that are not the line's or not in order, saying which", () => {
    const refusal = (line: SpeechScriptLine) => () => scriptLines([line]);
    expect(refusal({ text: "at nine", words: [{ text: "at", endMs: 200 }, { text: "ten", endMs: 500 }] })).toThrow(
      'speech emulator: script line 1: its words "at ten" are not its partials\' "at nine"',
    );
    expect(refusal({ text: "at nine", words: [{ text: "at", endMs: 500 }, { text: "nine", endMs: 200 }] })).toThrow(
      'speech emulator: script line 1 word 2 ("nine") ends at 200 ms, before the word ahead of it (500 ms)',
    );
    expect(refusal({ text: "at", words: [{ text: "at", endMs: -5 }] })).toThrow(/word 1 \("at"\) has no end/);
    expect(refusal({ text: "at", words: [{ text: "at", endMs: Number.NaN }] })).toThrow(/word 1 \("at"\) has no end/);
    expect(refusal({ text: "at", words: [{ text: " ", endMs: 5 }] })).toThrow(/word 1 has no text/);
    expect(refusal({ text: "at", words: [] })).toThrow(/words must be a non-empty list/);
    // The partials' words, not the final's; spacing does not count.
    expect(scriptLines([{ text: "at 9", partials: " at   nine ", words: [{ text: "at", endMs: 100 }, { text: "nine", endMs: 100 }] }])[0]!.words).toEqual([
      { text: "at", endMs: 100 },
      { text: "nine", endMs: 100 },
    ]);
  });

  it("takes timed words through the HTTP registry for a call, and refuses bad ones with a 400 and the reason", async () => {
    const { emulator, client } = await pool.start();
    const registry = await startScriptRegistry({ register: (callSid, lines) => emulator.registerScript(callSid, lines), log: () => undefined });
    try {
      const register = (lines: unknown[]) =>
        fetch(registry.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ callSid: "CA-words", lines }) });
      const refused = async (lines: unknown[]) => {
        const response = await register(lines);
        return { status: response.status, error: ((await response.json()) as { error: string }).error };
      };

      expect(await refused([{ text: "at nine", words: [{ text: "at", endMs: 300 }, { text: "nine", endMs: 100 }] }])).toEqual({
        status: 400,
        error: 'speech emulator: script line 1 word 2 ("nine") ends at 100 ms, before the word ahead of it (300 ms)',
      });
      expect(await refused([{ text: "at", words: [{ text: "at", endMs: null }] }])).toEqual({ status: 400, error: expect.stringMatching(/^lines\.0\.words\.0\.endMs: /) });
      expect(await refused([{ text: "at", words: [{ text: "at", endMs: -1 }] }])).toEqual({ status: 400, error: expect.stringMatching(/^lines\.0\.words\.0\.endMs: /) });
      expect(await refused([{ text: "at", words: [{ text: "at", endMs: 1, confidence: 1 }] }])).toEqual({ status: 400, error: expect.stringMatching(/^lines\.0\.words\.0: /) });
      expect(emulator.stats.scriptsRegistered).toBe(0);

      expect((await register([{ text: "Tuesday at nine thirty", words: WORDS }])).status).toBe(204);
      const { results } = await streamAudio(client, concat([silence(LEAD_MS), SPEECH(), silence(800)]), { callId: "CA-words" });
      expect(results.map((r) => r.transcript)).toEqual(["Tuesday", "Tuesday at", "Tuesday at nine", "Tuesday at nine thirty", "Tuesday at nine thirty"]);
    } finally {
      await registry.close();
    }
  });
});
