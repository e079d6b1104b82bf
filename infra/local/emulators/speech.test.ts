import * as grpc from "@grpc/grpc-js";
import { pcmToMulaw } from "@voice/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BYTES_PER_MS, PHONE_AUDIO, PHONE_CONFIG, SCRIPT, concat, emulatorPool, silence, spoken, streamAudio, utterances } from "./speech-test-kit.js";

/** Uniform noise at about -20 dBFS (as loud as speech), the same every run. */
function noise(ms: number): Uint8Array {
  let seed = 12345;
  const pcm = new Int16Array(ms * BYTES_PER_MS).map(() => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return Math.round((seed / 2 ** 31 - 0.5) * 11000);
  });
  return pcmToMulaw(pcm);
}

describe("speech emulator with the real SpeechClient", () => {
  let lines: Uint8Array[];
  const pool = emulatorPool();
  const start = pool.start;

  beforeAll(async () => {
    lines = await Promise.all(SCRIPT.map(spoken));
  });
  afterAll(() => pool.closeAll());

  it("answers each utterance with growing partials, then exactly one final with the script line", async () => {
    const { emulator, client } = await start();
    const audio = concat([silence(400), lines[0]!, silence(800), lines[1]!, silence(800), lines[2]!, silence(800)]);
    const { results, error } = await streamAudio(client, audio);

    expect(error).toBeUndefined();
    const groups = utterances(results);
    expect(groups).toHaveLength(3);
    let speechStartMs = 400;
    groups.forEach((group, k) => {
      const final = group.at(-1)!;
      const partials = group.slice(0, -1);
      expect(final).toMatchObject({ isFinal: true, transcript: SCRIPT[k] });
      expect(partials.length).toBeGreaterThanOrEqual(2);
      for (const partial of partials) expect(SCRIPT[k]!.startsWith(partial.transcript)).toBe(true);
      expect(partials[1]!.transcript.length).toBeGreaterThan(partials[0]!.transcript.length);
      // result_end_time: where this utterance's speech ended in the audio sent.
      const speechEndMs = speechStartMs + lines[k]!.length / BYTES_PER_MS;
      expect(final.endMs).toBeGreaterThan(speechEndMs - 100);
      expect(final.endMs).toBeLessThanOrEqual(speechEndMs + 20);
      speechStartMs = speechEndMs + 800;
    });
    expect(emulator.stats).toMatchObject({ streamsOpened: 1, streamsEnded: 1, finalsSent: 3, bytesReceived: audio.length });
    expect(emulator.stats.partialsSent).toBe(results.length - 3);
  });

  it("keeps a pause shorter than finalSilenceMs inside one utterance", async () => {
    const { client } = await start({ finalSilenceMs: 300 });
    const audio = concat([lines[0]!, silence(200), lines[1]!, silence(500)]);
    const { results } = await streamAudio(client, audio);

    const finals = results.filter((r) => r.isFinal);
    expect(finals.map((r) => r.transcript)).toEqual([SCRIPT[0]]);
    // The final waits for the end of the second stretch of speech.
    expect(finals[0]!.endMs).toBeGreaterThan((lines[0]!.length + lines[1]!.length) / BYTES_PER_MS);
  });

  it("sends only finals when interim_results is off, and the final of an utterance cut by half-close", async () => {
    const { client } = await start();
    const { results } = await streamAudio(client, concat([lines[0]!, silence(600), lines[1]!]), { config: { ...PHONE_CONFIG, interimResults: false } });
    expect(results).toEqual([
      expect.objectContaining({ isFinal: true, transcript: SCRIPT[0] }),
      expect.objectContaining({ isFinal: true, transcript: SCRIPT[1] }),
    ]);
  });

  it("gives a 150 ms noise burst no result at all, and the next utterance still gets the first line", async () => {
    const { emulator, client } = await start();
    const { results, error } = await streamAudio(client, concat([silence(300), noise(150), silence(800), lines[0]!, silence(600), noise(150)]));

    expect(error).toBeUndefined();
    expect(utterances(results).map((group) => group.at(-1)!.transcript)).toEqual([SCRIPT[0]]);
    // Nothing came back for the burst: the first result is a partial of the line, timed after it.
    expect(results[0]!.endMs).toBeGreaterThan(300 + 150 + 800);
    expect(emulator.stats).toMatchObject({ shortBurstsIgnored: 2, finalsSent: 1 });
  });

  it("sends only partials for a line that withholds its final, then carries on with the script", async () => {
    const { emulator, client } = await start({ script: [{ text: SCRIPT[0]!, withholdFinal: true }, SCRIPT[1]!] });
    const { results, error } = await streamAudio(client, concat([lines[0]!, silence(800), lines[1]!, silence(600)]));

    expect(error).toBeUndefined();
    const firstLineMs = lines[0]!.length / BYTES_PER_MS;
    const first = results.filter((r) => r.endMs <= firstLineMs + 300);
    expect(first.length).toBeGreaterThanOrEqual(2);
    for (const partial of first) {
      expect(partial.isFinal).toBe(false);
      expect(SCRIPT[0]!.startsWith(partial.transcript)).toBe(true);
    }
    expect(results.filter((r) => r.isFinal).map((r) => r.transcript)).toEqual([SCRIPT[1]]);
    expect(emulator.stats).toMatchObject({ finalsWithheld: 1, finalsSent: 1 });
  });

  it("grows partials towards a line's `partials` text when given, and finalises its `text`", async () => {
    const { client } = await start({ script: [{ text: SCRIPT[0]!, partials: SCRIPT[1]! }] });
    const { results, error } = await streamAudio(client, concat([lines[0]!, silence(600)]));

    expect(error).toBeUndefined();
    const partials = results.filter((r) => !r.isFinal);
    expect(partials.length).toBeGreaterThanOrEqual(2);
    for (const partial of partials) expect(SCRIPT[1]!.startsWith(partial.transcript)).toBe(true);
    expect(results.filter((r) => r.isFinal).map((r) => r.transcript)).toEqual([SCRIPT[0]]);
  });

  it("waits finalDelayMs of wall-clock time before a final", async () => {
    const { client } = await start({ finalDelayMs: 300 });
    const { results, sentAt } = await streamAudio(client, concat([lines[0]!, silence(400)]));
    const final = results.at(-1)!;
    expect(final.isFinal).toBe(true);
    // The audio is all sent at once, so without the delay the final would follow within milliseconds.
    expect(final.receivedAt - sentAt).toBeGreaterThanOrEqual(295);
  });

  it("ends after the first utterance in single_utterance mode", async () => {
    const { client } = await start();
    const { results, speechEvents, error } = await streamAudio(client, concat([lines[0]!, silence(600), lines[1]!, silence(600)]), {
      config: { ...PHONE_CONFIG, singleUtterance: true },
    });
    expect(error).toBeUndefined();
    expect(speechEvents).toEqual(["END_OF_SINGLE_UTTERANCE"]);
    expect(results.filter((r) => r.isFinal).map((r) => r.transcript)).toEqual([SCRIPT[0]]);
  });

  it("times a stream out with OUT_OF_RANGE when audio stops flowing", async () => {
    const { client } = await start({ audioTimeoutMs: 200 });
    const stream = client.streamingRecognize(PHONE_CONFIG);
    const error = await new Promise<grpc.ServiceError>((resolve) => {
      stream.on("data", () => undefined);
      stream.on("error", resolve);
      stream.write(silence(100));
    });
    expect(error.code).toBe(grpc.status.OUT_OF_RANGE);
    expect(error.details).toMatch(/^Audio Timeout Error/);
  });

  it("rejects a stream without a usable config with INVALID_ARGUMENT and a reason", async () => {
    const { emulator, client } = await start();
    const missing = await streamAudio(client, silence(100), { config: { config: {} } });
    expect(missing.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(missing.error?.details).toMatch(/encoding is required/);

    const wrongRate = await streamAudio(client, silence(100), { config: { config: { encoding: "MULAW", sampleRateHertz: 16000, languageCode: "he-IL" } } });
    expect(wrongRate.error?.details).toMatch(/sample_rate_hertz must be 8000/);

    const hePhoneCall = await streamAudio(client, silence(100), { config: { config: { ...PHONE_AUDIO, model: "phone_call" } } });
    expect(hePhoneCall.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(hePhoneCall.error?.details).toMatch(/phone_call.*not supported for language he-IL/);

    const oversized = client.streamingRecognize(PHONE_CONFIG);
    const tooBig = await new Promise<grpc.ServiceError>((resolve) => {
      oversized.on("data", () => undefined);
      oversized.on("error", resolve);
      oversized.write(silence(4000)); // 32 000 bytes in one request
    });
    expect(tooBig.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(tooBig.details).toMatch(/25600-byte limit/);
    expect(emulator.stats.streamsEnded).toBe(4);
  });

  it("fails an injected stream, and the client's retry resumes the script", async () => {
    const { emulator, client } = await start();
    emulator.injectFault({ afterAudioMs: lines[0]!.length / BYTES_PER_MS + 500, code: grpc.status.UNAVAILABLE });
    const broken = await streamAudio(client, concat([lines[0]!, silence(2000)]));
    expect(broken.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(broken.results.filter((r) => r.isFinal).map((r) => r.transcript)).toEqual([SCRIPT[0]]);

    const retried = await streamAudio(client, concat([lines[1]!, silence(500)]));
    expect(retried.error).toBeUndefined();
    expect(retried.results.filter((r) => r.isFinal).map((r) => r.transcript)).toEqual([SCRIPT[1]]);
  });

  it("ends a stream at the audio limit with OUT_OF_RANGE", async () => {
    const { client } = await start({ maxStreamMs: 1000 });
    const { error } = await streamAudio(client, silence(1500));
    expect(error?.code).toBe(grpc.status.OUT_OF_RANGE);
    expect(error?.details).toMatch(/maximum allowed stream duration/);
  });

  it("recognizes a whole recording with unary Recognize", async () => {
    const { client } = await start();
    const [response] = await client.recognize({
      config: PHONE_AUDIO,
      audio: { content: concat([lines[2]!, silence(400)]) },
    });
    expect(response.results?.map((r) => r.alternatives?.[0]?.transcript)).toEqual([SCRIPT[0]]);
  });
});
