// A 60-second call against a recognizer that ends every stream after 10 s of audio (Google's ~305 s
// limit, scaled down), driven 4x faster than real time: everything that decides turns runs on the
// caller's audio clock, and so does the emulator's limit. With rotation (streams replaced at a
// moment of silence before the limit) and without it (the limit's OUT_OF_RANGE is a retryable
// failure), every line the caller says reaches the LLM exactly once, in order.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import script from "../../../infra/caller-scripts/default.he.json" with { type: "json" };
import { callerSpeech, startCore, type CoreUnderTest, type EdgeLink } from "../../testing/core-harness.js";

const STREAM_LIMIT_MS = 10_000;
/** The script's questions; its last line is the caller's goodbye, after which the agent ends the call. */
const LINES = script.lines.slice(0, -1);
const CALL_MS = 60_000;
const SPEED = 4;

let rotating: CoreUnderTest;
let limited: CoreUnderTest;
let speech: Uint8Array[];

beforeAll(async () => {
  const emulators = { speech: { maxStreamMs: STREAM_LIMIT_MS } };
  [rotating, limited, speech] = await Promise.all([
    startCore({ emulators, env: { STT_STREAM_MAX_MS: "9000", STT_STREAM_ROTATE_MS: "6000" } }),
    // Rotation past the emulator's limit: every stream ends with OUT_OF_RANGE.
    startCore({ emulators, env: { STT_STREAM_MAX_MS: "20000", STT_STREAM_ROTATE_MS: "20000" } }),
    Promise.all(LINES.map(callerSpeech)),
  ]);
});

afterAll(async () => {
  await Promise.all([rotating?.close(), limited?.close()]);
});

/** The caller says the script's lines in turn, each after the last answer played, until a minute of audio. */
async function minuteCall(core: CoreUnderTest, call: EdgeLink): Promise<string[]> {
  core.emulators.speech.registerScript(call.callSid, LINES);
  call.begin(true, { speed: SPEED });
  call.echo("greeting");
  const said: string[] = [];
  while (call.audioSentMs < CALL_MS) {
    const k = said.length;
    said.push(LINES[k % LINES.length]!);
    await call.say(speech[k % speech.length]!, 600);
    await call.mark(`${k + 1}.end`);
    await call.echoOf(`${k + 1}.end`);
  }
  await call.hangUp();
  return said;
}

describe("a 60-second call with a 10-second stream limit", () => {
  it("loses no audio: every line reaches the LLM once, rotating streams before the limit or recovering after it", async () => {
    const [rotatingCall, limitedCall] = await Promise.all([rotating.open("CA-minute-rotating"), limited.open("CA-minute-limited")]);
    const [saidRotating, saidLimited] = await Promise.all([minuteCall(rotating, rotatingCall), minuteCall(limited, limitedCall)]);

    for (const [core, call, said] of [
      [rotating, rotatingCall, saidRotating],
      [limited, limitedCall, saidLimited],
    ] as const) {
      expect(call.closedByCore).toBe(false);
      // Several utterances across the six stream limits (a loaded machine fits fewer in the minute).
      expect(said.length).toBeGreaterThanOrEqual(4);
      const turns = core.logs.find("TURN", { call_id: call.callSid });
      expect(turns.map((t) => t.transcript)).toEqual(said);
      expect(turns.every((t) => t.stt_used_partial === false && t.stt_fallback === false)).toBe(true);
      // The last request carried the whole conversation: each line once, in order.
      const last = core.emulators.openai.stats.completions.at(-1)!;
      expect(last.messages.filter((m) => m.role === "user").map((m) => m.content)).toEqual(said);
      expect(core.emulators.speech.stats.calls.get(call.callSid)!.linesFinalised).toBe(said.length);
      expect(core.logs.find("STT down; utterances go to the fallback transcription", { call_id: call.callSid })).toEqual([]);
    }

    // Rotation: streams replaced before the limit, none ever hit it.
    const rotations = rotating.logs.find("STT stream rotated", { call_id: rotatingCall.callSid });
    expect(rotations.length).toBeGreaterThanOrEqual(CALL_MS / 9000);
    expect(rotating.logs.find("STT stream failed; retrying", { call_id: rotatingCall.callSid })).toEqual([]);
    const rotatedStreams = rotating.emulators.speech.stats.calls.get(rotatingCall.callSid)!.streams;
    expect(rotatedStreams.length).toBe(rotations.length + 1);
    for (const stream of rotatedStreams) {
      expect(stream.audioMs).toBeLessThan(STREAM_LIMIT_MS);
      // Ended by the core (the emulator records a cancel that reaches it after the half-close as "OK"), never by the limit.
      expect([undefined, "CANCELLED", "OK"]).toContain(stream.ending);
    }
    expect(rotating.logs.find("CALL", { call_id: rotatingCall.callSid })[0]).toMatchObject({ stt_errors: 0, stt_rotations: rotations.length });

    // No rotation: each stream ends at the limit, and a new one takes over after the backoff.
    const failures = limited.logs.find("STT stream failed; retrying", { call_id: limitedCall.callSid });
    expect(failures.length).toBeGreaterThanOrEqual(CALL_MS / STREAM_LIMIT_MS - 1);
    for (const failure of failures) {
      expect(failure).toMatchObject({ code: "OUT_OF_RANGE", error: expect.stringContaining("Exceeded maximum allowed stream duration") });
      const step = [200, 400, 800, 1600][(failure.attempt as number) - 1]!;
      expect(failure.delay_ms as number).toBeGreaterThan(step / 2);
      expect(failure.delay_ms as number).toBeLessThanOrEqual(step);
    }
  });
});
