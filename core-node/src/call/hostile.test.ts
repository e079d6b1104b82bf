// Hostile input on one call while another call on the same core talks: each class of bad frame gets
// its defined outcome (dropped with one line per reason, or the call closed with its code), the
// other caller's turn is answered as if nothing happened, and nothing is logged as an error.
// The core runs with the production flood limits; a flood closes after 2 s instead of 5.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { CLOSE_POLICY_VIOLATION, CLOSE_TOO_BIG, DEFAULT_MAX_AUDIO_BACKLOG_MS, DEFAULT_MAX_FRAMES_PER_SECOND, callLine } from "@voice/protocol";
import script from "../../../infra/caller-scripts/default.he.json" with { type: "json" };
import { TEST_SECRET, callerSpeech, levelDbfs, startCore, type CoreUnderTest, type EdgeLink } from "../../testing/core-harness.js";

const FLOOD_CLOSE_AFTER_S = 2;
/** Each bad frame is sent this often: the log must still say it once. */
const REPEAT = 8;

let core: CoreUnderTest;
let question: Uint8Array;

beforeAll(async () => {
  [core, question] = await Promise.all([
    startCore({
      env: {
        MAX_FRAMES_PER_SECOND: String(DEFAULT_MAX_FRAMES_PER_SECOND),
        MAX_AUDIO_BACKLOG_MS: String(DEFAULT_MAX_AUDIO_BACKLOG_MS),
        FLOOD_CLOSE_AFTER_S: String(FLOOD_CLOSE_AFTER_S),
      },
    }),
    callerSpeech(script.lines[0]!),
  ]);
});

afterAll(async () => {
  await core?.close();
});

function stopFrame(call: EdgeLink): Record<string, unknown> {
  return { event: "stop", sequenceNumber: "99", streamSid: call.streamSid, stop: { accountSid: "AC1", callSid: call.callSid } };
}

/** Sends frames as fast as a hostile edge can (1500 a second) until the core closes the call; resolves with the close code. */
async function flood(call: EdgeLink): Promise<number> {
  let n = 10_000;
  const timer = setInterval(() => {
    for (let i = 0; i < 30 && call.ws.readyState === WebSocket.OPEN; i++) call.sendJson(call.mediaFrame(n++));
  }, 20);
  try {
    return await call.closed;
  } finally {
    clearInterval(timer);
  }
}

describe("hostile input on one call", () => {
  it("gets its defined outcome, one line per reason, while another call on the core is answered normally", async () => {
    const { logs } = core;
    const [caller, hostile, afterStop, oversized] = await Promise.all([
      core.open("CA-caller"),
      core.open("CA-hostile"),
      core.open("CA-after-stop"),
      core.open("CA-oversized"),
    ]);
    caller.begin(true);
    caller.echo("greeting");
    const answered = caller.say(question).then(() => caller.mark("1.end"));

    // Every class of bad frame, REPEAT times each; the call goes on after each.
    for (let i = 0; i < REPEAT; i++) hostile.sendJson(hostile.mediaFrame(i)); // media before start
    hostile.open(true);
    for (let i = 0; i < REPEAT; i++) {
      hostile.ws.send(Buffer.from([0x7b, 0x22, 0xff, 0x00])); // a binary frame
      hostile.ws.send("{\"event\":\"media\""); // not JSON
      hostile.sendJson(hostile.mediaFrame(i, "@@not base64@@")); // invalid base64
      hostile.sendJson(hostile.mediaFrame(i, Buffer.alloc(3, 0x7f).toString("base64"))); // odd-length audio
      hostile.sendJson({ ...hostile.mediaFrame(i), sequenceNumber: i }); // a wrong type
      hostile.sendJson({ event: "telepathy", streamSid: hostile.streamSid }); // an unknown event
    }
    // Then a flood, 30 times real time: the backlog allowance is spent in a moment, then dropped for 2 s and closed.
    expect(await flood(hostile)).toBe(CLOSE_POLICY_VIOLATION);

    // Events after `stop` are not read: the call ended with the stop.
    afterStop.open(true);
    afterStop.sendJson(stopFrame(afterStop));
    afterStop.sendJson(afterStop.mediaFrame(0));
    afterStop.sendJson({ event: "mark", sequenceNumber: "3", streamSid: afterStop.streamSid, mark: { name: "greeting" } });
    afterStop.sendJson({ event: "telepathy" });
    expect(await afterStop.closed).toBe(1000);

    // A frame over MAX_FRAME_BYTES: ws closes the socket itself.
    oversized.open(true);
    oversized.ws.send(JSON.stringify({ ...oversized.mediaFrame(0), payload: "A".repeat(core.app.config.MAX_FRAME_BYTES) }));
    expect(await oversized.closed).toBe(CLOSE_TOO_BIG);

    // The other caller heard their answer, as on a quiet core.
    await answered;
    expect(caller.marks()).toEqual([expect.stringMatching(/^1\.1:/), expect.stringMatching(/^1\.2:/), "1.end"]);
    expect(levelDbfs(caller.audioByTurn.get(1)!)).toBeGreaterThan(-35);
    const turn = await logs.next("TURN", { call_id: "CA-caller" });
    expect(turn).toMatchObject({ turn: 1, transcript: script.lines[0], interrupted: false });
    expect(turn.TOTAL_LATENCY_MS as number).toBeLessThan(8000);
    await caller.hangUp();
    expect(callLine.parse(await logs.next("CALL", { call_id: "CA-caller" }))).toMatchObject({ turns: 1, dropped_frames: 0, end_reason: "stop" });

    // One line per reason, however many frames had it.
    const dropped = logs.find("frame dropped", { call_id: "CA-hostile" }).map((line) => line.reason as string);
    expect(dropped).toEqual([
      "media before start",
      expect.stringContaining("binary frame"),
      "not JSON",
      "media.payload: payload is not base64",
      "media payload of 3 bytes, expected 160",
      expect.stringMatching(/^sequenceNumber: .*expected string/),
      expect.stringMatching(/^event: /),
    ]);
    expect(logs.find("frames over the flood limit; dropping them", { call_id: "CA-hostile" })).toHaveLength(1);
    expect(logs.find("frame flood; call closed", { call_id: "CA-hostile" })).toEqual([
      expect.objectContaining({ severity: "WARNING", max_frames_per_second: DEFAULT_MAX_FRAMES_PER_SECOND, flood_close_after_s: FLOOD_CLOSE_AFTER_S }),
    ]);
    const hostileCall = callLine.parse(await logs.next("CALL", { call_id: "CA-hostile" }));
    expect(hostileCall.end_reason).toBe("flood");
    expect(hostileCall.dropped_frames).toBeGreaterThan(REPEAT * 7 + DEFAULT_MAX_FRAMES_PER_SECOND);

    expect(logs.find("frame dropped", { call_id: "CA-after-stop" })).toEqual([]);
    expect(await logs.next("CALL", { call_id: "CA-after-stop" })).toMatchObject({ end_reason: "stop" });

    expect(logs.find("frame over the size limit; call closed", { call_id: "CA-oversized" })).toHaveLength(1);
    expect(await logs.next("CALL", { call_id: "CA-oversized" })).toMatchObject({ end_reason: "frame too big" });

    // Nothing went wrong inside the core, and every call has left it.
    expect(logs.lines.filter((line) => line.severity === "ERROR" || line.severity === "CRITICAL")).toEqual([]);
    expect(core.server.activeCalls()).toBe(0);
  });

  it("writes no secret into any line of the calls above", () => {
    const written = core.logs.lines.map((line) => JSON.stringify(line)).join("\n");
    expect(core.logs.lines.length).toBeGreaterThan(10);
    for (const secret of [TEST_SECRET, core.app.config.OPENAI_API_KEY!]) expect(written).not.toContain(secret);
    expect(written).not.toMatch(/Bearer|PRIVATE KEY/);
  });
});
