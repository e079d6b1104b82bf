import { levelDbfs } from "@voice/protocol";
import * as grpc from "@grpc/grpc-js";
import { TextToSpeechClient } from "@google-cloud/text-to-speech";
import { WAV_FORMAT_MULAW, WAV_FORMAT_PCM, mulawToPcm, parseWav, pcmFromBytes } from "@voice/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { HUGE_AUDIO_BYTES, startTtsEmulator, ssmlToText, type MalformedAudioShape, type TtsEmulator } from "./tts.js";

describe("TTS emulator with the real TextToSpeechClient", () => {
  let emulator: TtsEmulator;
  let slow: TtsEmulator;
  let client: TextToSpeechClient;
  let slowClient: TextToSpeechClient;
  const connect = (port: number) =>
    new TextToSpeechClient({ apiEndpoint: "127.0.0.1", port, sslCreds: grpc.credentials.createInsecure(), universeDomain: "googleapis.com" });

  beforeAll(async () => {
    [emulator, slow] = await Promise.all([startTtsEmulator({ log: () => undefined }), startTtsEmulator({ latencyMs: 5000, log: () => undefined })]);
    client = connect(emulator.port);
    slowClient = connect(slow.port);
  });
  afterAll(async () => {
    await Promise.all([client.close(), slowClient.close(), emulator.close(), slow.close()]);
  });

  it("speaks Hebrew as 8 kHz mu-law in a WAV, loud enough to be speech", async () => {
    const [response] = await client.synthesizeSpeech({
      input: { text: "שלום, איך אפשר לעזור?" },
      voice: { languageCode: "he-IL", name: "he-IL-Wavenet-A" },
      audioConfig: { audioEncoding: "MULAW", sampleRateHertz: 8000 },
    });
    const wav = parseWav(response.audioContent as Uint8Array);
    expect(wav.format).toEqual({ audioFormat: WAV_FORMAT_MULAW, channels: 1, sampleRate: 8000, bitsPerSample: 8 });
    const seconds = wav.data.length / 8000;
    expect(seconds).toBeGreaterThan(0.8);
    expect(seconds).toBeLessThan(5);
    expect(levelDbfs(mulawToPcm(wav.data))).toBeGreaterThan(-30);
    expect(emulator.stats.characters).toBeGreaterThanOrEqual("שלום, איך אפשר לעזור?".length);
    // With latencyMs 0 every answer waits for synthesis, which the stats own up to.
    expect(emulator.stats.latencyOverruns).toBe(1);
  });

  it("defaults LINEAR16 to the voice's natural 24 kHz and speaks the words of SSML", async () => {
    const [response] = await client.synthesizeSpeech({
      input: { ssml: "<speak>Hello <break time=\"200ms\"/> there &amp; welcome</speak>" },
      voice: { languageCode: "en-US" },
      audioConfig: { audioEncoding: "LINEAR16" },
    });
    const wav = parseWav(response.audioContent as Uint8Array);
    expect(wav.format).toEqual({ audioFormat: WAV_FORMAT_PCM, channels: 1, sampleRate: 24_000, bitsPerSample: 16 });
    expect(levelDbfs(pcmFromBytes(wav.data))).toBeGreaterThan(-30);
    expect(ssmlToText("<speak>Hello <break time=\"200ms\"/> there &amp; welcome</speak>")).toBe("Hello there & welcome");
  });

  it("rejects an unknown voice or a voice of another language with INVALID_ARGUMENT", async () => {
    const request = (name: string) => ({
      input: { text: "שלום" },
      voice: { languageCode: "he-IL", name },
      audioConfig: { audioEncoding: "MULAW" as const, sampleRateHertz: 8000 },
    });
    await expect(client.synthesizeSpeech(request("he-IL-Wavenet-Z"))).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: "Voice 'he-IL-Wavenet-Z' does not exist. Is it misspelled?",
    });
    await expect(client.synthesizeSpeech(request("en-US-Wavenet-A"))).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringMatching(/does not speak language_code 'he-IL'/),
    });
  });

  it("lists Hebrew voices of every family", async () => {
    const [response] = await client.listVoices({ languageCode: "he-IL" });
    const names = response.voices!.map((voice) => voice.name);
    expect(names).toEqual(expect.arrayContaining(["he-IL-Standard-A", "he-IL-Wavenet-D", "he-IL-Chirp3-HD-Kore"]));
    expect(new Set(response.voices!.flatMap((voice) => voice.languageCodes))).toEqual(new Set(["he-IL"]));
    expect(response.voices!.every((voice) => voice.naturalSampleRateHertz === 24_000)).toBe(true);
  });

  it("counts a call the client gives up on before the answer", async () => {
    const call = slowClient.synthesizeSpeech(SHORT_REQUEST, { timeout: 300, maxRetries: 0 });
    await expect(call).rejects.toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
    await vi.waitFor(() => expect(slow.stats.cancellations).toBe(1));
    expect(slow.stats).toMatchObject({ requests: 1, requestsInFlight: 0 });
  });

  it("counts a pending call the client cancels", async () => {
    const before = { ...slow.stats };
    await slowClient.initialize();
    // The gax call under synthesizeSpeech(): its promise can be cancelled, as a barge-in does.
    const call = slowClient.innerApiCalls.synthesizeSpeech!(SHORT_REQUEST, { maxRetries: 0 }) as Promise<unknown> & { cancel(): void };
    const outcome = call.then(
      () => "answered",
      (error: grpc.ServiceError) => error.code,
    );
    await vi.waitFor(() => expect(slow.stats.requestsInFlight).toBe(1));
    call.cancel();

    expect(await outcome).toBe(grpc.status.CANCELLED);
    await vi.waitFor(() => expect(slow.stats.cancellations).toBe(before.cancellations + 1));
    expect(slow.stats).toMatchObject({ requests: before.requests + 1, requestsInFlight: 0 });
  });

  // On the emulator above, whose eSpeak workers are warm by now.
  describe("faults, as the client sees them", () => {
    afterEach(() => emulator.clearFaults());

    // `retry: null` turns gax's own retrying off, so what the service said reaches the caller as is.
    const NO_RETRY = { retry: null };

    it("fails the next requests with a gRPC status, in Google's words unless told otherwise", async () => {
      emulator.injectFault({ code: grpc.status.UNAVAILABLE });
      emulator.injectFault({ code: grpc.status.INTERNAL }, { times: 2 });
      const outcome = () =>
        client.synthesizeSpeech(SHORT_REQUEST, NO_RETRY).then(
          () => "answered",
          (error: grpc.ServiceError) => ({ code: error.code, details: error.details }),
        );
      expect([await outcome(), await outcome(), await outcome(), await outcome()]).toEqual([
        { code: grpc.status.UNAVAILABLE, details: "The service is currently unavailable." },
        { code: grpc.status.INTERNAL, details: "Internal error encountered." },
        { code: grpc.status.INTERNAL, details: "Internal error encountered." },
        "answered",
      ]);
      expect(emulator.stats.faultsByKind.status).toBe(3);
    });

    it("is retried by gax's defaults on UNAVAILABLE (not on INTERNAL); maxRetries 0 turns UNAVAILABLE into a code-4 GoogleError", async () => {
      const before = emulator.stats.requests;
      emulator.injectFault({ code: grpc.status.UNAVAILABLE });
      const [response] = await client.synthesizeSpeech(SHORT_REQUEST);
      expect(parseWav(response.audioContent as Uint8Array).data.length).toBeGreaterThan(1000);
      expect(emulator.stats.requests).toBe(before + 2);

      emulator.injectFault({ code: grpc.status.INTERNAL });
      await expect(client.synthesizeSpeech(SHORT_REQUEST)).rejects.toMatchObject({ code: grpc.status.INTERNAL });

      emulator.injectFault({ code: grpc.status.UNAVAILABLE });
      await expect(client.synthesizeSpeech(SHORT_REQUEST, { maxRetries: 0 })).rejects.toMatchObject({
        code: grpc.status.DEADLINE_EXCEEDED,
        message: expect.stringMatching(/^Exceeded maximum number of retries retrying error Error: 14 UNAVAILABLE: The service is currently unavailable\./),
      });
    });

    it("stalls a request until the client's deadline", async () => {
      const before = { ...emulator.stats };
      emulator.injectFault({ kind: "stall" }, { times: 2 });
      const sentAt = performance.now();
      const error = await client.synthesizeSpeech(SHORT_REQUEST, { timeout: 250, ...NO_RETRY }).catch((e: grpc.ServiceError) => e);
      // The client's deadline timer and the server's (started from the grpc-timeout header) race:
      // grpc-js words the first "Deadline exceeded after 0.25s", the second "Deadline exceeded".
      expect(error).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED, details: expect.stringMatching(/^Deadline exceeded( after \d|$)/) });
      expect(performance.now() - sentAt).toBeGreaterThanOrEqual(240);
      // With gax's retry settings on, the same deadline reads as gax's total timeout.
      await expect(client.synthesizeSpeech(SHORT_REQUEST, { timeout: 250 })).rejects.toMatchObject({
        code: grpc.status.DEADLINE_EXCEEDED,
        message: expect.stringMatching(/^Total timeout of API google.cloud.texttospeech.v1.TextToSpeech exceeded 250 milliseconds/),
      });
      await vi.waitFor(() => expect(emulator.stats.cancellations).toBe(before.cancellations + 2));
      expect(emulator.stats).toMatchObject({ requestsInFlight: 0, faultsByKind: { stall: 2 } });
    });

    it("answers with the audio malformed as each shape says, in a valid gRPC message", async () => {
      const [clean] = await client.synthesizeSpeech(SHORT_REQUEST, NO_RETRY);
      const samples = new Uint8Array(parseWav(clean.audioContent as Uint8Array).data);
      const shapes: MalformedAudioShape[] = ["empty", "not-wav", "lying-length", "odd-length", "huge"];
      for (const shape of shapes) emulator.injectFault({ kind: "malformed", shape });
      const audio: Uint8Array[] = [];
      for (let i = 0; i < shapes.length; i++) audio.push(new Uint8Array((await client.synthesizeSpeech(SHORT_REQUEST, NO_RETRY))[0].audioContent as Uint8Array));
      const [empty, notWav, lying, odd, huge] = audio as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];

      expect(empty.length).toBe(0);
      expect(Buffer.from(notWav.subarray(0, 4)).toString("latin1")).not.toBe("RIFF");
      expect(notWav).toEqual(samples);
      // The header claims ten times the samples that follow it; the samples are all there.
      expect(new DataView(lying.buffer).getUint32(40, true)).toBe(samples.length * 10);
      expect(parseWav(lying).data).toEqual(samples);
      expect(parseWav(odd).data.length % 2).toBe(1);
      expect(parseWav(odd).data).toEqual(samples.subarray(0, parseWav(odd).data.length));
      expect(huge.length).toBe(HUGE_AUDIO_BYTES);
      expect(parseWav(huge).format).toEqual(parseWav(clean.audioContent as Uint8Array).format);
      expect(emulator.stats.faultsByKind.malformed).toBe(shapes.length);
    });

    it("answers delayMs later when slow", async () => {
      emulator.injectFault({ kind: "slow", delayMs: 300 });
      const sentAt = performance.now();
      const [response] = await client.synthesizeSpeech(SHORT_REQUEST, NO_RETRY);
      expect(performance.now() - sentAt).toBeGreaterThanOrEqual(290);
      expect(parseWav(response.audioContent as Uint8Array).data.length).toBeGreaterThan(1000);
    });
  });
});

const SHORT_REQUEST = {
  input: { text: "שלום" },
  voice: { languageCode: "he-IL" },
  audioConfig: { audioEncoding: "MULAW" as const, sampleRateHertz: 8000 },
};

describe("TTS emulator latencyMs", () => {
  it("answers latencyMs after each request, with synthesis running meanwhile rather than after it", async () => {
    const latencyMs = 3000;
    // One eSpeak worker: four requests at once are synthesized one after another (~150-200 ms each,
    // so all are done by ~0.7 s, with room for a machine four times as slow, as CI is under load).
    const fixed = await startTtsEmulator({ latencyMs, synthesisWorkers: 1, log: () => undefined });
    const client = new TextToSpeechClient({ apiEndpoint: "127.0.0.1", port: fixed.port, sslCreds: grpc.credentials.createInsecure(), universeDomain: "googleapis.com" });
    try {
      await client.synthesizeSpeech(SHORT_REQUEST); // boots the worker outside the measurement
      const sentences = ["אנחנו פתוחים עד שש בערב.", "יש תור פנוי מחר בבוקר.", "האם השעה מתאימה לך?", "תודה שהתקשרת, להתראות!"];
      const elapsed = await Promise.all(
        sentences.map(async (text) => {
          const sentAt = performance.now();
          const [response] = await client.synthesizeSpeech({ ...SHORT_REQUEST, input: { text } });
          expect(parseWav(response.audioContent as Uint8Array).data.length).toBeGreaterThan(4000);
          return performance.now() - sentAt;
        }),
      );
      for (const ms of elapsed) expect(ms).toBeGreaterThanOrEqual(latencyMs);
      // Sleeping first and synthesizing after would put the last answer at latencyMs + ~700 ms.
      expect(Math.max(...elapsed)).toBeLessThan(latencyMs + 400);
      expect(fixed.stats).toMatchObject({ requestsInFlight: 0, latencyOverruns: 0 });
    } finally {
      await Promise.all([client.close(), fixed.close()]);
    }
  });
});
