import { FRAME_BYTES, FRAME_MS, type InboundMediaFrame } from "@voice/protocol";
import { describe, it, type TestContext } from "vitest";
import { runCall } from "./call.js";
import { startFakeEdge, type FakeEdge, type FakeEdgeOptions } from "./fake-edge.js";

const AUTH_TOKEN = "test-auth-token";
const script = (lines: string[]) => ({ language: "he-IL", voice: "he", lines });

/** A fake edge of the test's own, closed when the test ends. */
async function fakeEdge(onTestFinished: TestContext["onTestFinished"], options: Omit<FakeEdgeOptions, "authToken"> = {}): Promise<FakeEdge> {
  const edge = await startFakeEdge({ authToken: AUTH_TOKEN, ...options });
  onTestFinished(() => edge.close());
  return edge;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

// Each test has a fake edge of its own: the tests run side by side.
describe.concurrent("runCall against a fake edge", () => {
  it("places a signed call, streams audio at real time, echoes marks after playback and measures each turn", async ({ expect, onTestFinished }) => {
    const edge = await fakeEdge(onTestFinished);
    const lines = ["שלום", "תודה רבה"];
    const report = await runCall({ url: edge.url, authToken: AUTH_TOKEN, script: script(lines), timeoutMs: 8000 });
    await edge.streamClosed;

    expect(report.errors).toEqual([]);
    expect(edge.rejections).toEqual([]);
    expect(edge.invalidFrames).toEqual([]);

    // Webhook and start carry Twilio's identifiers and hand back the TwiML parameters.
    const [params] = edge.webhookParams;
    expect(params).toMatchObject({ CallStatus: "ringing", Direction: "inbound" });
    expect(params!.CallSid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(params!.AccountSid).toMatch(/^AC[0-9a-f]{32}$/);
    expect(report.call_sid).toBe(params!.CallSid);
    const frames = edge.frames.map((f) => f.frame);
    expect(frames.map((f) => f.event).slice(0, 2)).toEqual(["connected", "start"]);
    expect(frames.at(-1)!.event).toBe("stop");
    const start = frames[1]!;
    if (start.event !== "start") throw new Error("no start");
    expect(start.start.callSid).toBe(params!.CallSid);
    expect(start.streamSid).toMatch(/^MZ[0-9a-f]{32}$/);
    expect(start.start.customParameters).toEqual({ callSid: params!.CallSid, from: params!.From, note: "fish & chips", token: "t1" });

    // Sequence numbers run 1, 2, 3, ... over every frame after `connected`.
    expect(frames.slice(1).map((f) => ("sequenceNumber" in f ? f.sequenceNumber : ""))).toEqual(
      frames.slice(1).map((_, i) => String(i + 1)),
    );

    // Media: one frame per 20 ms of audio, continuous from start to stop, paced at real time.
    const media = edge.frames.filter((f): f is { frame: InboundMediaFrame; at: number } => f.frame.event === "media");
    expect(media.map((m) => m.frame.media.timestamp)).toEqual(media.map((_, i) => String(i * FRAME_MS)));
    expect(media.map((m) => m.frame.media.chunk)).toEqual(media.map((_, i) => String(i + 1)));
    expect(media.every((m) => Buffer.from(m.frame.media.payload, "base64").length === FRAME_BYTES)).toBe(true);
    const audioMs = media.length * FRAME_MS;
    const wallMs = media.at(-1)!.at - media[0]!.at;
    expect(Math.abs(wallMs + FRAME_MS - audioMs)).toBeLessThan(Math.max(300, audioMs * 0.1));
    expect(median(media.slice(1).map((m, i) => m.at - media[i]!.at))).toBeGreaterThan(10);

    // Each mark comes back only once the audio sent before it could have played.
    const echoes = edge.frames.flatMap((f) => (f.frame.event === "mark" ? [{ name: f.frame.mark.name, at: f.at }] : []));
    expect(echoes.map((e) => e.name)).toEqual(edge.sentMarks.map((m) => m.name));
    for (const [i, sent] of edge.sentMarks.entries()) {
      expect(echoes[i]!.at - sent.at, sent.name).toBeGreaterThanOrEqual(sent.audioMsBefore - FRAME_MS);
    }

    // What the caller heard, turn by turn.
    expect(report.greeting_ms).not.toBeNull();
    expect(report.greeting_ms!).toBeLessThan(1000);
    expect(report.greeting_audio.length).toBe(25 * FRAME_BYTES);
    expect(report.turns.map((t) => [t.caller_text, t.agent_text, t.agent_audio_ms])).toEqual([
      [lines[0], "answer 1", 300],
      [lines[1], "answer 2", 300],
    ]);
    for (const turn of report.turns) {
      // The fake edge answers after 300 ms of silence; the caller hears the answer on the next tick or two.
      expect(turn.caller_latency_ms!).toBeGreaterThan(200);
      expect(turn.caller_latency_ms!).toBeLessThan(2000);
      expect(turn.agent_audio.length).toBe(15 * FRAME_BYTES);
    }
    expect(report.recording.caller.length).toBe(media.length * FRAME_BYTES);
    expect(report.recording.agent.length).toBe(report.recording.caller.length);
  });

  it("on a network stall holds every frame the caller sends, then delivers the backlog at once, in order", async ({ expect, onTestFinished }) => {
    const edge = await fakeEdge(onTestFinished);
    const stallMs = 1500;
    const report = await runCall({ url: edge.url, authToken: AUTH_TOKEN, script: script(["שלום"]), timeoutMs: 8000, stalls: [{ line: 1, afterMs: 200, ms: stallMs }] });
    await edge.streamClosed;

    expect(report.errors).toEqual([]);
    expect(report.turns.map((t) => t.agent_text)).toEqual(["answer 1"]);
    const media = edge.frames.flatMap((f) => (f.frame.event === "media" ? [{ timestamp: Number(f.frame.media.timestamp), at: f.at }] : []));
    // The audio clock went on through the stall: no frame missing, none out of order.
    expect(media.map((m) => m.timestamp)).toEqual(media.map((_, i) => i * FRAME_MS));
    // One gap of about the stall, then the frames due during it all at once.
    const gaps = media.slice(1).map((m, i) => m.at - media[i]!.at);
    const stalled = gaps.findIndex((gap) => gap > stallMs - 200);
    expect(stalled).toBeGreaterThan(0);
    expect(gaps.filter((gap) => gap > 500)).toHaveLength(1);
    const backlog = media.slice(stalled + 1, stalled + 1 + stallMs / FRAME_MS - 5);
    expect(backlog.at(-1)!.at - backlog[0]!.at).toBeLessThan(200);
  });

  it("on clear drops the buffered answer and echoes its pending marks at once", async ({ expect, onTestFinished }) => {
    const edge = await fakeEdge(onTestFinished, { answerFrames: 100, clearAfterFrames: 15 });
    const report = await runCall({ url: edge.url, authToken: AUTH_TOKEN, script: script(["שלום"]), timeoutMs: 8000 });
    await edge.streamClosed;

    expect(report.errors).toEqual([]);
    const [clearedAt] = edge.clearedAt;
    expect(clearedAt).toBeDefined();
    const answerSentAt = edge.sentMarks.find((m) => m.name === "1.end")!.at;
    const echoes = edge.frames.flatMap((f) => (f.frame.event === "mark" ? [{ name: f.frame.mark.name, at: f.at }] : []));
    for (const name of ["1.0:answer 1", "1.end"]) {
      const echo = echoes.find((e) => e.name === name)!;
      expect(echo.at).toBeGreaterThanOrEqual(clearedAt!);
      // Far sooner than the 2 s answer could have played.
      expect(echo.at - answerSentAt).toBeLessThan(1500);
    }
    const [turn] = report.turns;
    expect(turn!.agent_text).toBe("");
    expect(turn!.agent_audio_ms).toBeGreaterThan(0);
    expect(turn!.agent_audio_ms).toBeLessThan(1500);
  });

  it("reports frames Twilio would reject and carries on with the call", async ({ expect, onTestFinished }) => {
    const edge = await fakeEdge(onTestFinished, { sendJunk: true });
    const report = await runCall({ url: edge.url, authToken: AUTH_TOKEN, script: script(["שלום"]), timeoutMs: 8000 });

    expect(report.errors).toHaveLength(3);
    expect(report.errors[0]).toMatch(/binary frame/);
    expect(report.errors[1]).toMatch(/not JSON/);
    expect(report.errors[2]).toMatch(/malformed frame: media/);
    expect(report.turns[0]!.agent_text).toBe("answer 1");
  });

  it("reports a refused webhook and places no stream", async ({ expect, onTestFinished }) => {
    const edge = await fakeEdge(onTestFinished);
    const report = await runCall({ url: edge.url, authToken: "wrong-token", script: script(["שלום"]) });

    expect(report.errors).toEqual([expect.stringMatching(/voice webhook .* answered 403/)]);
    expect(report.turns).toEqual([]);
    expect(edge.frames).toEqual([]);
  });

  it("records a turn the agent never answered, then hangs up", async ({ expect, onTestFinished }) => {
    const edge = await fakeEdge(onTestFinished, { mute: true });
    const report = await runCall({ url: edge.url, authToken: AUTH_TOKEN, script: script(["שלום"]), timeoutMs: 1000 });
    await edge.streamClosed;

    expect(report.errors).toEqual(["no answer to turn 1 (waited 1000 ms)"]);
    expect(report.turns).toMatchObject([{ caller_text: "שלום", agent_text: "", caller_latency_ms: null, agent_audio_ms: 0 }]);
    expect(edge.frames.at(-1)!.frame.event).toBe("stop");
  });
});
