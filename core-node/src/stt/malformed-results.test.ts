// Recognition results that are well-formed gRPC but malformed content, through the real SpeechClient
// and the speech emulator: each class replaces the final of a call's first line, one call per class,
// all at once. The bad final is dropped (an empty one by the turn machine, the rest by the stream), so
// the line is answered from its latest partial at STT_TIMEOUT_MS; nothing fails, nothing is retried,
// and the next line's final is taken as usual: no bad result makes the caller's later words look
// covered already, and no 100 KB "transcript" reaches the LLM.
import { callLine, turnLine } from "@voice/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MalformedResultShape } from "../../../infra/local/emulators/speech.js";
import { NO_SPECULATION, callerSpeech, converse, startCore, type CoreUnderTest } from "../../testing/core-harness.js";

/** A thank-you that is not a goodbye (after a goodbye the agent ends the call: call/call-control.test.ts). */
const THANKS = "תודה רבה על העזרה שלך";
const HOURS = "שלום, מה שעות הפתיחה שלכם?";
/** The first line's answer is short, so the caller's wait for it to play is too. */
const SCRIPT = [THANKS, HOURS];

/** A transcript of the first line: its words from the start, at least one. */
const saidFirst = (transcript: string) => transcript.length > 0 && THANKS.startsWith(transcript);

const SHAPES: MalformedResultShape[] = ["no-alternatives", "empty-final", "negative-end", "absurd-end", "unsent-audio", "huge-transcript"];

let core: CoreUnderTest;
let speech: Uint8Array[];

beforeAll(async () => {
  [core, speech] = await Promise.all([startCore({ emulators: { script: SCRIPT }, env: NO_SPECULATION }), Promise.all(SCRIPT.map(callerSpeech))]);
});

afterAll(async () => {
  await core?.close();
});

describe("a malformed recognition final", () => {
  it("is dropped: the line is answered from its partial, the call goes on, and the next line's final counts", async () => {
    const { emulators, logs } = core;
    const callSid = (shape: MalformedResultShape) => `CA-stt-malformed-${shape}`;
    for (const shape of SHAPES) emulators.speech.injectFault({ kind: "malformed", shape }, { callId: callSid(shape), times: 1 });
    const calls = await Promise.all(SHAPES.map((shape) => core.open(callSid(shape))));
    await Promise.all(
      calls.map(async (call) => {
        call.begin(true);
        call.echo("greeting");
        await converse(call, speech);
        await call.hangUp();
      }),
    );

    for (const [i, shape] of SHAPES.entries()) {
      const id = callSid(shape);
      const call = calls[i]!;
      expect(call.closedByCore, shape).toBe(false);
      for (const turn of [1, 2]) expect(call.marks().filter((m) => m.startsWith(`${turn}.`)).at(-1), shape).toBe(`${turn}.end`);
      const turns = logs.find("TURN", { call_id: id }).map((line) => turnLine.parse(line));
      expect(
        turns.map((t) => [t.turn, t.stt_used_partial, t.retries, t.fallbacks]),
        shape,
      ).toEqual([
        [1, true, 0, 0],
        [2, false, 0, 0],
      ]);
      // The partial has the line's words (all of them, unless the machine is slow enough to lose the last one).
      expect(saidFirst(turns[0]!.transcript), shape).toBe(true);
      expect(turns[1]!.transcript, shape).toBe(HOURS);
      // The emulator did send the malformed final, on the call's only stream.
      expect(emulators.speech.stats.calls.get(id), shape).toMatchObject({ streamsOpened: 1, faultsInjected: 1, finalsSent: 2 });
      expect(callLine.parse(logs.find("CALL", { call_id: id })[0]), shape).toMatchObject({ end_reason: "stop", turns: 2, stt_errors: 0, stt_reopens: 0 });
    }
    // The model got each line once, as said: never the bad final's text.
    const requests = emulators.openai.stats.completions
      .filter((completion) => completion.messages[0]?.role === "system")
      .map((completion) => completion.messages.filter((message) => message.role === "user").map((message) => String(message.content)));
    expect(requests).toHaveLength(SHAPES.length * SCRIPT.length);
    for (const users of requests) {
      expect(saidFirst(users[0]!)).toBe(true);
      expect(users.slice(1)).toEqual(SCRIPT.slice(1, users.length));
    }
    expect(requests.filter((users) => users.length === SCRIPT.length)).toHaveLength(SHAPES.length);
    expect(logs.find("STT result handler failed")).toEqual([]);
  });
});
