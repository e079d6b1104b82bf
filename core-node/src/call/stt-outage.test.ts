// Recognition down, through the real emulators: retries exhausted, or an error no retry can fix. The
// next utterance gets the interim phrase from the cache at once while its audio is transcribed in the
// background (the OpenAI emulator hears the line the speech emulator had pending for the call), and
// the turn goes on with that transcript, or ends with an apology when the transcription fails too.
// The utterance after that tries the recognizer again.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { callLine, turnLine, type TurnLine } from "@voice/protocol";
import { DEFAULT_FIXED_PHRASES as PHRASES } from "../config.js";
import { NO_SPECULATION, callerSpeech, converse, startCore, type CoreUnderTest, type EdgeLink } from "../../testing/core-harness.js";

/** A thank-you that is not a goodbye (after a goodbye the agent ends the call: call-control.test.ts). */
const THANKS = "תודה רבה על העזרה שלך";
const HOURS = "שלום, מה שעות הפתיחה שלכם?";
const SCRIPT = [THANKS, HOURS];
const FALLBACK_TIMEOUT_MS = 1500;

let core: CoreUnderTest;
let speech: Uint8Array[];

beforeAll(async () => {
  [core, speech] = await Promise.all([
    startCore({ emulators: { script: SCRIPT }, env: { ...NO_SPECULATION, STT_FALLBACK_TIMEOUT_MS: String(FALLBACK_TIMEOUT_MS) } }),
    Promise.all(SCRIPT.map(callerSpeech)),
  ]);
});

afterAll(async () => {
  await core?.close();
});

const EXHAUSTED = "CA-outage-exhausted";
const TRANSCRIPTION_FAILS = "CA-outage-transcription-fails";
const TRANSCRIPTION_STALLS = "CA-outage-transcription-stalls";
const DENIED = "CA-outage-denied";

/** TURN lines as the shared schema reads them. */
const turnsOf = (callSid: string): TurnLine[] => core.logs.find("TURN", { call_id: callSid }).map((line) => turnLine.parse(line));
const marksOf = (call: EdgeLink, turn: number) => call.marks().filter((mark) => mark.startsWith(`${turn}.`));

describe("when recognition is down", () => {
  it("the caller hears the interim phrase at once, the transcription answers the turn, and the next utterance tries the recognizer again", async () => {
    const { emulators, logs } = core;
    // Five streams in a row fail before the caller speaks: the first and its four retries.
    for (const callId of [EXHAUSTED, TRANSCRIPTION_FAILS, TRANSCRIPTION_STALLS]) {
      emulators.speech.injectFault({ code: status.UNAVAILABLE }, { callId, times: 5 });
    }
    emulators.openai.injectTranscriptionFault({ kind: "http", status: 500 }, { callId: TRANSCRIPTION_FAILS, times: 1 });
    emulators.openai.injectTranscriptionFault({ kind: "stall" }, { callId: TRANSCRIPTION_STALLS, times: 1 });
    // An error no new stream can fix, in the middle of the first line.
    emulators.speech.injectFault({ code: status.PERMISSION_DENIED, afterAudioMs: 1100 }, { callId: DENIED, times: 1 });

    const callSids = [EXHAUSTED, TRANSCRIPTION_FAILS, TRANSCRIPTION_STALLS, DENIED];
    const calls = await Promise.all(callSids.map((callSid) => core.open(callSid)));
    await Promise.all(
      calls.map(async (call) => {
        call.begin(true);
        call.echo("greeting");
        // The exhausted calls speak once the retries (200 + 400 + 800 + 1600 ms) are over.
        await converse(call, speech, call.callSid === DENIED ? 600 : 4500);
        await call.hangUp();
      }),
    );
    const [exhausted, transcriptionFails, transcriptionStalls, denied] = calls as [EdgeLink, EdgeLink, EdgeLink, EdgeLink];
    for (const call of calls) expect(call.closedByCore, call.callSid).toBe(false);

    // Retries exhausted: four retries on the backoff (each wait drawn in (half, all] of its step), then down.
    const retries = logs.find("STT stream failed; retrying", { call_id: EXHAUSTED });
    expect(retries.map((line) => [line.code, line.attempt])).toEqual([
      ["UNAVAILABLE", 1],
      ["UNAVAILABLE", 2],
      ["UNAVAILABLE", 3],
      ["UNAVAILABLE", 4],
    ]);
    const waits = retries.map((line) => line.delay_ms as number);
    [200, 400, 800, 1600].forEach((step, i) => {
      expect(waits[i]).toBeGreaterThan(step / 2);
      expect(waits[i]).toBeLessThanOrEqual(step);
    });
    expect(logs.find("STT down; utterances go to the fallback transcription", { call_id: EXHAUSTED })).toEqual([
      expect.objectContaining({ severity: "ERROR", code: "UNAVAILABLE", attempts: 4, retryable: true }),
    ]);
    const streams = emulators.speech.stats.calls.get(EXHAUSTED)!.streams;
    for (const [i, delayMs] of waits.entries()) {
      const gap = streams[i + 1]!.openedAt - streams[i]!.endedAt!;
      expect(gap).toBeGreaterThanOrEqual(delayMs - 5);
      expect(gap).toBeLessThan(delayMs + 1500);
    }

    // The first line: the interim phrase first, from the cache, as soon as the caller stopped; then
    // the answer to what the transcription heard.
    const [first, second] = turnsOf(EXHAUSTED);
    expect(first).toMatchObject({ turn: 1, transcript: THANKS, stt_fallback: true, fallbacks: 1, tts_cache_hit: true, interrupted: false });
    expect(first!.TOTAL_LATENCY_MS! - first!.EOU_MS).toBeLessThan(500);
    expect(marksOf(exhausted, 1)).toEqual([`1.1:${PHRASES.stt_trouble}`, expect.stringMatching(/^1\.2:תודה שהתקשרת/), "1.end"]);
    // The second line tried the recognizer again, and it answered.
    expect(logs.find("STT retried for a new utterance", { call_id: EXHAUSTED })).toHaveLength(1);
    expect(second).toMatchObject({ turn: 2, transcript: HOURS, stt_fallback: false, fallbacks: 0 });
    expect(emulators.speech.stats.calls.get(EXHAUSTED)!.linesTranscribed).toBe(1);
    expect(callLine.parse(logs.find("CALL", { call_id: EXHAUSTED })[0])).toMatchObject({
      end_reason: "stop",
      turns: 2,
      fallbacks: 1,
      stt_errors: 5,
      stt_reopens: 5, // four retries, and the new utterance's stream
    });

    // The transcription failing too (an error, or no answer within STT_FALLBACK_TIMEOUT_MS): an
    // apology after the interim phrase, no LLM request for it, and the call listens on.
    for (const call of [transcriptionFails, transcriptionStalls]) {
      const [apology, next] = turnsOf(call.callSid);
      expect(apology, call.callSid).toMatchObject({ turn: 1, transcript: "", stt_fallback: true, fallbacks: 2, answer_sentences: 2 });
      expect(marksOf(call, 1), call.callSid).toEqual([`1.1:${PHRASES.stt_trouble}`, `1.2:${PHRASES.stt_failed}`, "1.end"]);
      expect(next, call.callSid).toMatchObject({ turn: 2, transcript: HOURS, stt_fallback: false });
    }
    expect(logs.find("STT fallback failed; speaking the fallback phrase", { call_id: TRANSCRIPTION_STALLS })).toEqual([
      expect.objectContaining({ error: `transcription timed out after ${FALLBACK_TIMEOUT_MS} ms` }),
    ]);
    const [stalled] = turnsOf(TRANSCRIPTION_STALLS);
    expect(stalled!.STT_FINAL_MS!).toBeGreaterThanOrEqual(FALLBACK_TIMEOUT_MS);

    // An error no retry fixes: down at once, no retry loop; the utterance in progress goes to the
    // transcription when it ends; the next one tries a new stream.
    expect(logs.find("STT stream failed; retrying", { call_id: DENIED })).toEqual([]);
    expect(logs.find("STT down; utterances go to the fallback transcription", { call_id: DENIED })).toEqual([
      expect.objectContaining({ code: "PERMISSION_DENIED", attempts: 0, retryable: false }),
    ]);
    expect(turnsOf(DENIED).map((t) => [t.transcript, t.stt_fallback])).toEqual([
      [THANKS, true],
      [HOURS, false],
    ]);
    expect(marksOf(denied, 1)[0]).toBe(`1.1:${PHRASES.stt_trouble}`);

    // What the model was asked, per call: each line once, in order; nothing for a line nobody understood.
    const requests = emulators.openai.stats.completions
      .filter((completion) => completion.messages[0]?.role === "system")
      .map((completion) => JSON.stringify(completion.messages.filter((message) => message.role === "user").map((message) => message.content)));
    const expected = [
      [THANKS], [THANKS, HOURS], // exhausted
      [HOURS], // transcription fails
      [HOURS], // transcription stalls
      [THANKS], [THANKS, HOURS], // denied
    ].map((users) => JSON.stringify(users));
    expect(requests.sort()).toEqual(expected.sort());
  });
});
