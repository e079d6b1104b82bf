// SynthesizeSpeech answers whose audio is malformed, through the real TextToSpeechClient and the TTS
// emulator, one class per turn of one call (TTS requests carry no call id, so the classes take turns).
// Audio that cannot be played (none, not a WAV, minutes long for a sentence) fails the sentence: it is
// retried once, then the cached apology phrase takes its place, with the reason in the log. Audio
// that is whole but oddly wrapped (a data chunk claiming more than came, an odd length) is played.
// Every turn is a keypad entry, so each answer is a sentence of its own that no cache holds.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerFor } from "../../../infra/local/emulators/chat-answers.js";
import type { MalformedAudioShape } from "../../../infra/local/emulators/tts.js";
import { DEFAULT_FIXED_PHRASES as PHRASES } from "../config.js";
import { NO_SPECULATION, startCore, type CoreUnderTest } from "../../testing/core-harness.js";

interface Case {
  shape: MalformedAudioShape;
  /** The reason logged; undefined: the audio is played. */
  reason?: RegExp;
}

const CASES: Case[] = [
  { shape: "empty", reason: /^the answer has no audio$/ },
  { shape: "not-wav", reason: /^the audio is not a usable WAV \(not a RIFF\/WAVE file\)$/ },
  { shape: "huge", reason: /^\d+\.\d s of audio for 25 characters \(at most 15 s\)$/ },
  { shape: "lying-length" },
  { shape: "odd-length" },
];

/** The chat emulator's answer to a keypad entry: 25 characters for two keys. */
const keypadAnswer = (keys: string) => answerFor(`[keypad] ${keys}`);

let core: CoreUnderTest;

beforeAll(async () => {
  core = await startCore({ env: NO_SPECULATION });
});

afterAll(async () => {
  await core?.close();
});

describe("malformed synthesized audio", () => {
  it("fails the sentence into the apology phrase when it cannot be played, plays it when it can, and the call goes on", async () => {
    const { emulators, logs } = core;
    const call = await core.open("CA-tts-malformed");
    call.begin(true, { speed: 4 });
    call.echo("greeting");
    const requestsBefore = emulators.tts.stats.requests;
    /** Turn k: keys "k#" with the fault on the answer's synthesis (and its retry); then a turn with none. */
    const turns = [...CASES, undefined];
    for (const [i, c] of turns.entries()) {
      const turn = i + 1;
      if (c) emulators.tts.injectFault({ kind: "malformed", shape: c.shape }, { times: c.reason ? 2 : 1 });
      call.key(String(turn));
      call.key("#");
      await call.mark(`${turn}.end`);
      await call.echoOf(`${turn}.end`);
    }
    await call.hangUp();

    expect(call.closedByCore).toBe(false);
    for (const [i, c] of turns.entries()) {
      const turn = i + 1;
      const name = c?.shape ?? "no fault";
      const sentence = keypadAnswer(`${turn}#`);
      const marks = call.marks().filter((mark) => mark.startsWith(`${turn}.`));
      const line = logs.find("TURN", { call_id: call.callSid, turn })[0];
      const retry = logs.find("TTS failed; retrying", { call_id: call.callSid, turn });
      const fallback = logs.find("TTS failed; speaking the fallback phrase", { call_id: call.callSid, turn });
      if (c?.reason) {
        expect(marks, name).toEqual([`${turn}.1:${PHRASES.answer_error}`, `${turn}.end`]);
        expect(line, name).toMatchObject({ retries: 1, fallbacks: 1, tts_failures: 1, tts_cache_hit: true });
        expect(retry, name).toEqual([expect.objectContaining({ sentence, error: expect.stringMatching(c.reason) })]);
        expect(fallback, name).toEqual([expect.objectContaining({ sentence, error: expect.stringMatching(c.reason) })]);
      } else {
        expect(marks, name).toEqual([`${turn}.1:${sentence}`, `${turn}.end`]);
        expect(line, name).toMatchObject({ retries: 0, fallbacks: 0, tts_failures: 0 });
        expect([...retry, ...fallback], name).toEqual([]);
      }
      // What the caller heard is a sentence's worth of audio: never the minutes of the huge answer.
      const heardMs = ((call.audioByTurn.get(turn) ?? []).reduce((sum, frame) => sum + frame.length, 0) / 8000) * 1000;
      expect(heardMs, name).toBeGreaterThan(1000);
      expect(heardMs, name).toBeLessThan(8000);
    }
    // Each failing class: the request and one retry; each playable one (and the last turn): one.
    expect(emulators.tts.stats.requests - requestsBefore).toBe(turns.reduce((sum, c) => sum + (c?.reason ? 2 : 1), 0));
    expect(emulators.tts.stats.faultsByKind.malformed).toBe(CASES.reduce((sum, c) => sum + (c.reason ? 2 : 1), 0));
    expect(logs.find("CALL", { call_id: call.callSid })[0]).toMatchObject({ end_reason: "stop", turns: turns.length, fallbacks: 3 });
  });
});
