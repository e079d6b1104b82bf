// The flood limit never drops a real caller: when the network holds the caller's frames (a stall)
// and then delivers the backlog at once, every frame is heard and the line spoken across the stall
// is one turn with its whole transcript. A stream that does run ahead of real time, whatever media
// timestamps it writes, is thinned and then closed 1008. The core runs with the production limits
// (MAX_AUDIO_BACKLOG_MS, MAX_FRAMES_PER_SECOND), a flood closed after 2 s instead of 5.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { CLOSE_POLICY_VIOLATION, DEFAULT_MAX_AUDIO_BACKLOG_MS, DEFAULT_MAX_FRAMES_PER_SECOND, callLine } from "@voice/protocol";
import script from "../../../infra/caller-scripts/default.he.json" with { type: "json" };
import { callerSpeech, startCore, type CoreUnderTest, type EdgeLink } from "../../testing/core-harness.js";

const FLOOD_CLOSE_AFTER_S = 2;
const STALLS_MS = [500, 1500, 3000, 5000];
/** The silence before the line (EdgeLink.say's default). */
const LEAD_MS = 300;

let core: CoreUnderTest;
let question: Uint8Array;

beforeAll(async () => {
  [core, question] = await Promise.all([
    startCore({
      env: {
        MAX_FRAMES_PER_SECOND: String(2 * DEFAULT_MAX_FRAMES_PER_SECOND),
        MAX_AUDIO_BACKLOG_MS: String(2 * DEFAULT_MAX_AUDIO_BACKLOG_MS),
        FLOOD_CLOSE_AFTER_S: String(FLOOD_CLOSE_AFTER_S),
      },
    }),
    callerSpeech(script.lines[0]!),
  ]);
});

afterAll(async () => {
  await core?.close();
});

describe("a caller whose line stalls", () => {
  it("loses no frame after stalls of 0.5, 1.5, 3 and 5 s mid-sentence, and each sentence is one turn with its whole transcript", async () => {
    const { logs } = core;
    const speechMs = question.length / 8;
    const calls = await Promise.all(STALLS_MS.map((ms) => core.open(`CA-stall-${ms}`)));
    const stalled = calls.map(async (call, i) => {
      call.begin(true);
      call.echo("greeting");
      // Halfway through the sentence the network holds the line, then delivers the backlog at once.
      const delivered = call.stallAt(call.audioSentMs + LEAD_MS + speechMs / 2, STALLS_MS[i]!);
      const said = call.say(question, LEAD_MS);
      await delivered;
      await said;
      await call.mark("1.end");
      const sent = call.audioSentMs / 20;
      await call.hangUp();
      return sent;
    });
    const sent = await Promise.all(stalled);

    for (const [i, call] of calls.entries()) {
      const turns = logs.find("TURN", { call_id: call.callSid });
      expect(turns, `stall of ${STALLS_MS[i]} ms`).toEqual([expect.objectContaining({ turn: 1, transcript: script.lines[0] })]);
      const summary = callLine.parse(await logs.next("CALL", { call_id: call.callSid }));
      expect(summary, `stall of ${STALLS_MS[i]} ms`).toMatchObject({ turns: 1, dropped_frames: 0, end_reason: "stop" });
      // Every frame sent was heard (the frames after the hang-up's stop are not sent).
      expect(summary.frames_in).toBe(sent[i]);
    }
    expect(logs.lines.filter((line) => String(line.message).startsWith("frames over the flood limit"))).toEqual([]);
  });
});

/** Media frames as fast as a hostile edge sends them (1500 a second, 30 times real time), timestamps written by `timestamp(n)`, until the core closes the call. */
async function flood(call: EdgeLink, timestamp: (n: number) => string): Promise<number> {
  let n = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < 30 && call.ws.readyState === WebSocket.OPEN; i++, n++) {
      const frame = call.mediaFrame(n) as { media: Record<string, string> };
      call.sendJson({ ...frame, media: { ...frame.media, timestamp: timestamp(n) } });
    }
  }, 20);
  try {
    return await call.closed;
  } finally {
    clearInterval(timer);
  }
}

describe("a stream that runs ahead of real time", () => {
  const forged: Array<[string, (n: number) => string]> = [
    ["Twilio's own timestamps", (n) => String(n * 20)],
    ["timestamps going backwards", (n) => String(1_000_000 - n * 20)],
    ["timestamps far in the past", () => "0"],
    ["timestamps that are not numbers", (n) => (n % 2 ? "NaN" : "-Infinity")],
  ];

  it("is thinned and closed 1008 within seconds, whatever media timestamps it writes", async () => {
    const { logs } = core;
    const calls = await Promise.all(forged.map((_, i) => core.open(`CA-flood-${i}`)));
    const started = performance.now();
    const closed = await Promise.all(
      calls.map((call, i) => {
        call.open(true);
        return flood(call, forged[i]![1]);
      }),
    );
    // The allowance (20 s of audio) is spent in under a second at 30 times real time, then 2 s of dropping.
    expect(performance.now() - started).toBeLessThan(20_000);
    for (const [i, call] of calls.entries()) {
      expect(closed[i], forged[i]![0]).toBe(CLOSE_POLICY_VIOLATION);
      expect(logs.find("frames over the flood limit; dropping them", { call_id: call.callSid })).toHaveLength(1);
      const summary = callLine.parse(await logs.next("CALL", { call_id: call.callSid }));
      expect(summary.end_reason).toBe("flood");
      // What got through is about real time plus the allowance, not the flood.
      expect(summary.frames_in).toBeLessThan(2 * (DEFAULT_MAX_AUDIO_BACKLOG_MS / 20) + 50 * 15);
    }
  });
});
