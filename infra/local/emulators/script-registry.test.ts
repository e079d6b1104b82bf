// Per-call caller scripts: lines registered over HTTP for a call are what the speech emulator
// transcribes for that call (the real SpeechClient over gRPC, two calls at once), and what the
// transcription API hears for it; a call that registered nothing keeps the default script.
import * as grpc from "@grpc/grpc-js";
import { SpeechClient } from "@google-cloud/speech";
import { buildWav, pcmToMulaw, SAMPLE_RATE, WAV_FORMAT_MULAW } from "@voice/protocol";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coreTurnsUrl, liveLinesUrl, MAX_CORE_TURNS_WAIT_MS, SCRIPT_REGISTRY_PATH, type LiveScriptStatus, type ScriptRegistration } from "../../caller-scripts/registration.js";
import { CALL_ID_HEADER, startEmulators, type Emulators } from "./index.js";
import { BYTES_PER_MS, concat, finals, openStream, silence, spoken, streamAudio } from "./speech-test-kit.js";

const DEFAULT_LINES = ["ברירת מחדל ראשונה", "ברירת מחדל שנייה"];
const ALICE = ["שלום, יש לכם תור פנוי?", "כן, בבקשה", "תודה, להתראות"];
const BOB = ["מה שעות הפתיחה שלכם?", "ספר לי על המרפאה"];

describe("caller scripts registered per call", () => {
  let emulators: Emulators;
  let speech: SpeechClient;
  /** Three utterances of eSpeak speech, 600 ms apart: what a caller's audio looks like to the emulator. */
  let utterances: Uint8Array[];

  const register = (body: unknown, url = emulators.scriptRegistry.url) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
  const registration = (callSid: string, lines: string[]): ScriptRegistration => ({ callSid, lines });
  /** The call's audio: `count` utterances with pauses long enough to end each. */
  const callAudio = (count: number) => concat(utterances.slice(0, count).flatMap((utterance) => [silence(300), utterance, silence(600)]));

  beforeAll(async () => {
    const quiet = { log: () => undefined };
    emulators = await startEmulators({ script: DEFAULT_LINES, speech: quiet, tts: quiet, openai: { ...quiet, firstTokenMs: 0, tokenIntervalMs: 0 } });
    speech = new SpeechClient({ apiEndpoint: "127.0.0.1", port: emulators.speech.port, sslCreds: grpc.credentials.createInsecure(), universeDomain: "googleapis.com" });
    utterances = await Promise.all(["אחת שתיים שלוש", "ארבע חמש", "שש שבע שמונה"].map(spoken));
  });
  afterAll(async () => {
    await speech.close();
    await emulators.close();
  });

  it("serves the registry at its path on loopback", () => {
    expect(emulators.scriptRegistry.url).toBe(`http://127.0.0.1:${emulators.scriptRegistry.port}${SCRIPT_REGISTRY_PATH}`);
  });

  it("transcribes two concurrent calls each as its own registered lines, and an unregistered call as the default script", async () => {
    expect((await register(registration("CA-alice", ALICE))).status).toBe(204);
    expect((await register(registration("CA-bob", BOB))).status).toBe(204);

    const [alice, bob, nobody] = await Promise.all([
      streamAudio(speech, callAudio(3), { callId: "CA-alice" }),
      streamAudio(speech, callAudio(2), { callId: "CA-bob" }),
      streamAudio(speech, callAudio(2), { callId: "CA-nobody" }),
    ]);

    for (const result of [alice, bob, nobody]) expect(result.error).toBeUndefined();
    expect(finals(alice.results)).toEqual(ALICE);
    expect(finals(bob.results)).toEqual(BOB);
    expect(finals(nobody.results)).toEqual(DEFAULT_LINES);
    // Partials grow towards the call's own line too.
    for (const partial of bob.results.filter((r) => !r.isFinal)) expect(BOB.some((line) => line.startsWith(partial.transcript))).toBe(true);
    expect(emulators.scriptRegistry.stats.registered).toBeGreaterThanOrEqual(2);
    expect(emulators.speech.stats.scriptsRegistered).toBe(emulators.scriptRegistry.stats.registered);
  });

  it("continues a registered script across the call's streams, and gives the transcription fallback the call's pending line", async () => {
    const callId = "CA-carol";
    const carol = ["שורה ראשונה של כרמל", "שורה שנייה של כרמל", "שורה שלישית של כרמל"];
    expect((await register(registration(callId, carol))).status).toBe(204);

    expect(finals((await streamAudio(speech, callAudio(1), { callId })).results)).toEqual([carol[0]]);
    // The core's STT fallback sends the next utterance to the transcription API instead.
    const llm = new OpenAI({ baseURL: emulators.env.OPENAI_BASE_URL, apiKey: emulators.env.OPENAI_API_KEY, maxRetries: 0 });
    const wav = buildWav({ audioFormat: WAV_FORMAT_MULAW, channels: 1, sampleRate: 8000, bitsPerSample: 8 }, utterances[1]!);
    const heard = await llm.audio.transcriptions.create({ file: await toFile(wav, "utterance.wav"), model: "whisper-1" }, { headers: { [CALL_ID_HEADER]: callId } });
    expect(heard.text).toBe(carol[1]);
    // A new stream (as after a failure) picks up at the third line.
    expect(finals((await streamAudio(speech, callAudio(1), { callId })).results)).toEqual([carol[2]]);
  });

  it("transcribes nothing for a caller who registered no words: speech or a tone that passes for it", async () => {
    const callId = "CA-silent";
    expect((await register(registration(callId, []))).status).toBe(204);
    // A steady 440 Hz tone at speech level (-20 dBFS RMS), as music on the caller's side.
    const tone = pcmToMulaw(new Int16Array(1500 * BYTES_PER_MS).map((_, i) => Math.round(3300 * Math.sin((2 * Math.PI * 440 * i) / SAMPLE_RATE))));
    const before = emulators.speech.stats.wordlessUtterances;
    const heard = await streamAudio(speech, concat([silence(300), tone, silence(600), utterances[0]!, silence(600)]), { callId });

    expect(heard.error).toBeUndefined();
    expect(heard.results).toEqual([]);
    // Both were taken for utterances, and neither gave a word.
    expect(emulators.speech.stats.wordlessUtterances - before).toBe(2);
  });

  it("refuses what is not a script, saying why, and registers nothing", async () => {
    const before = emulators.speech.stats.scriptsRegistered;
    const refusal = async (response: Response) => ({ status: response.status, body: (await response.json()) as { error: string } });

    expect(await refusal(await register({ callSid: "CA-x", lines: "שלום" }))).toEqual({ status: 400, body: { error: expect.stringMatching(/^lines: /) } });
    expect(await refusal(await register({ lines: ["שלום"] }))).toEqual({ status: 400, body: { error: expect.stringMatching(/^callSid: /) } });
    expect(await refusal(await register({ callSid: "CA-x", lines: ["  "] }))).toEqual({ status: 400, body: { error: expect.stringMatching(/^lines\.0: /) } });
    expect(await refusal(await register("{not json"))).toEqual({ status: 400, body: { error: expect.stringMatching(/parse the JSON/) } });
    expect((await register(registration("CA-x", ["שלום"]), emulators.scriptRegistry.url.replace(SCRIPT_REGISTRY_PATH, "/elsewhere"))).status).toBe(404);
    expect((await fetch(emulators.scriptRegistry.url)).status).toBe(405);
    expect(emulators.speech.stats.scriptsRegistered).toBe(before);

    // Nothing was registered for CA-x: it hears the default script.
    expect(finals((await streamAudio(speech, callAudio(1), { callId: "CA-x" })).results)).toEqual([DEFAULT_LINES[0]]);
  });

  it("keeps a live script: each line added is what the call's next utterance says; an utterance with none waiting says nothing", async () => {
    const callId = "CA-live";
    const addLine = (line: unknown) => fetch(liveLinesUrl(emulators.scriptRegistry.url), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ callSid: callId, line }) });
    const status = async () => (await (await fetch(liveLinesUrl(emulators.scriptRegistry.url, callId))).json()) as LiveScriptStatus;
    /** Polls the registry (the emulator acts on audio as it arrives) until `done` holds. */
    const until = async (done: (s: LiveScriptStatus) => boolean) => {
      for (let seen = await status(); !done(seen); seen = await status()) await new Promise((resolve) => setTimeout(resolve, 20));
    };
    // startEmulators links the registry to the speech emulator; a line for a call with no live script is refused.
    expect((await addLine("too early")).status).toBe(404);
    expect((await register({ callSid: callId, lines: [], live: true })).status).toBe(204);

    const stream = openStream(speech, { callId });
    stream.send(concat([silence(300), utterances[0]!, silence(600)]));
    await until((s) => s.wordlessUtterances === 1);
    expect((await addLine("the first words")).status).toBe(204);
    expect((await addLine("the second words")).status).toBe(204);
    stream.send(concat([utterances[1]!, silence(600)]));
    await until((s) => s.taken === 1);
    stream.send(concat([utterances[2]!, silence(600), utterances[0]!, silence(600)]));
    stream.halfClose();
    expect(await stream.outcome).toBeUndefined();

    expect(finals(stream.results)).toEqual(["the first words", "the second words"]);
    expect(await status()).toEqual({ taken: 2, waiting: 0, wordlessUtterances: 2 });
    expect((await addLine("  ")).status).toBe(400);
    expect((await fetch(liveLinesUrl(emulators.scriptRegistry.url, "CA-not-live"))).status).toBe(404);
  });

  it("serves the core's turns of a call once the stack gives it a core log, and says so before", async () => {
    const turnsUrl = coreTurnsUrl(emulators.scriptRegistry.url, "CA-t", 0);
    const before = await fetch(turnsUrl);
    expect(before.status).toBe(404);
    expect(((await before.json()) as { error: string }).error).toMatch(/no core log/);

    const asked: [string, number][] = [];
    emulators.scriptRegistry.serveCoreTurns({
      turnsOf: async (callSid, waitMs) => {
        asked.push([callSid, waitMs]);
        return { ended: true, turns: [] };
      },
    });
    expect(await (await fetch(coreTurnsUrl(emulators.scriptRegistry.url, "CA-t", 60_000))).json()).toEqual({ ended: true, turns: [] });
    expect(asked).toEqual([["CA-t", MAX_CORE_TURNS_WAIT_MS]]);
    expect((await fetch(turnsUrl.replace("callSid=CA-t", "callSid="))).status).toBe(400);
    expect((await fetch(turnsUrl, { method: "POST" })).status).toBe(405);
  });
});
