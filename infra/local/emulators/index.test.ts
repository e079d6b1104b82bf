import * as grpc from "@grpc/grpc-js";
import { SpeechClient } from "@google-cloud/speech";
import { TextToSpeechClient } from "@google-cloud/text-to-speech";
import { buildWav, parseWav, WAV_FORMAT_MULAW } from "@voice/protocol";
import OpenAI, { toFile } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import defaultScript from "../../caller-scripts/default.he.json" with { type: "json" };
import { CALL_ID_HEADER, startEmulators, type Emulators } from "./index.js";
import { concat, durationMs, finals, silence, spoken, streamAudio } from "./speech-test-kit.js";

const local = (endpoint: string) => {
  const [host, port] = endpoint.split(":");
  return { apiEndpoint: host!, port: Number(port), sslCreds: grpc.credentials.createInsecure(), universeDomain: "googleapis.com" };
};

describe("the three emulators together", () => {
  let emulators: Emulators;
  let tts: TextToSpeechClient;
  let speech: SpeechClient;
  let llm: OpenAI;

  beforeAll(async () => {
    const quiet = { log: () => undefined };
    emulators = await startEmulators({ speech: quiet, tts: quiet, openai: { ...quiet, firstTokenMs: 0, tokenIntervalMs: 0 } });
    tts = new TextToSpeechClient(local(emulators.env.TTS_ENDPOINT));
    speech = new SpeechClient(local(emulators.env.SPEECH_ENDPOINT));
    llm = new OpenAI({ baseURL: emulators.env.OPENAI_BASE_URL, apiKey: emulators.env.OPENAI_API_KEY, maxRetries: 0 });
  });
  afterEach(() => emulators.clearFaults());
  afterAll(async () => {
    await Promise.all([tts.close(), speech.close()]);
    await emulators.close();
  });

  it("starts all three; the agent's speech round-trips through STT to the script", async () => {
    const [spokenLine] = await tts.synthesizeSpeech({
      input: { text: defaultScript.lines[1] },
      voice: { languageCode: "he-IL", name: "he-IL-Standard-B" },
      audioConfig: { audioEncoding: "MULAW", sampleRateHertz: 8000 },
    });
    const [recognized] = await speech.recognize({
      config: { encoding: "MULAW", sampleRateHertz: 8000, languageCode: "he-IL" },
      audio: { content: parseWav(spokenLine.audioContent as Uint8Array).data },
    });
    expect(recognized.results?.map((r) => r.alternatives?.[0]?.transcript)).toEqual([defaultScript.lines[0]]);

    const answer = await llm.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: defaultScript.lines[1]! }] });
    expect(answer.choices[0]!.message.content).toMatch(/תור/);
  });

  it("gives the transcription API a call's utterance that recognition lost, and recognition the next line after it", async () => {
    const callId = "CA-fallback";
    const lines = defaultScript.lines;
    const [one, two, three] = (await Promise.all(lines.map(spoken))) as [Uint8Array, Uint8Array, Uint8Array];
    // Recognition breaks half-way through the second utterance, and again on the call's next stream.
    emulators.speech.injectFault({ code: grpc.status.UNAVAILABLE, afterAudioMs: durationMs(one) + 600 + durationMs(two) / 2 }, { callId });
    emulators.speech.injectFault({ code: grpc.status.UNAVAILABLE }, { callId });
    const broken = await streamAudio(speech, concat([one, silence(600), two]), { callId });
    expect(broken.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(finals(broken.results)).toEqual([lines[0]]);
    expect((await streamAudio(speech, two, { callId })).error?.code).toBe(grpc.status.UNAVAILABLE);

    // The core sends the utterance's audio to the transcription API instead.
    const wav = buildWav({ audioFormat: WAV_FORMAT_MULAW, channels: 1, sampleRate: 8000, bitsPerSample: 8 }, two);
    const transcription = await llm.audio.transcriptions.create(
      { file: await toFile(wav, "utterance.wav"), model: "whisper-1" },
      { headers: { [CALL_ID_HEADER]: callId } },
    );
    expect(transcription.text).toBe(lines[1]);

    // Recognition works again on the caller's next utterance, which is the next line.
    const next = await streamAudio(speech, concat([three, silence(600)]), { callId });
    expect(finals(next.results)).toEqual([lines[2]]);
    expect(emulators.speech.stats.calls.get(callId)).toMatchObject({ streamsOpened: 3, linesFinalised: 3, linesTranscribed: 1 });
  });

  it("clears every emulator's faults at once", async () => {
    const always = { probability: 1 };
    emulators.speech.injectFault({ code: grpc.status.INTERNAL }, always);
    emulators.tts.injectFault({ code: grpc.status.INTERNAL }, always);
    emulators.openai.injectChatFault({ kind: "http", status: 500 }, always);
    emulators.openai.injectTranscriptionFault({ kind: "http", status: 500 }, always);
    emulators.clearFaults();

    expect((await streamAudio(speech, silence(100))).error).toBeUndefined();
    const [spokenWord] = await tts.synthesizeSpeech({ input: { text: "שלום" }, voice: { languageCode: "he-IL" }, audioConfig: { audioEncoding: "MULAW", sampleRateHertz: 8000 } });
    expect(spokenWord.audioContent?.length).toBeGreaterThan(0);
    await expect(llm.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "תודה" }] })).resolves.toBeDefined();
    const wav = buildWav({ audioFormat: WAV_FORMAT_MULAW, channels: 1, sampleRate: 8000, bitsPerSample: 8 }, silence(200));
    await expect(llm.audio.transcriptions.create({ file: await toFile(wav, "u.wav"), model: "whisper-1" })).resolves.toMatchObject({ text: "שלום" });
  });
});
