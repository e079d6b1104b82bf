// The whole path of a phone call on one machine: the simulator (as Twilio) -> edge in workerd ->
// core as its own process -> emulators speaking Google's and OpenAI's wire protocols.
import { levelDbfs } from "@voice/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { FRAME_BYTES, signCoreToken, twilioSignature } from "@voice/protocol";
import { coreHealth, type CoreLogLine } from "../local/core-process.js";
import type { EdgeLogLine } from "../local/edge.js";
import { LOCAL_SECRETS, startStack, type Stack } from "../local/stack.js";
import { mulawToPcm } from "@voice/protocol";
import { runCall } from "../sim/call.js";
import { newSid, requestStreamTwiml } from "../sim/twilio-client.js";
import { mediaMessage, startMessage } from "../twilio/media-stream-frames.js";
import { LOCAL_ACCOUNT_SID, signedStart } from "../twilio/stream-start.js";
import { DEFAULT_SCRIPT_PATH, loadCallerScript, type CallerScript } from "../sim/script.js";

const TURN_METRICS = ["STT_FIRST_PARTIAL_MS", "STT_FINAL_MS", "LLM_FIRST_TOKEN_MS", "TTS_READY_MS", "TOTAL_LATENCY_MS"];

let stack: Stack;
let script: CallerScript;
const edgeLines: EdgeLogLine[] = [];

beforeAll(async () => {
  script = await loadCallerScript(DEFAULT_SCRIPT_PATH);
  stack = await startStack({ onEdgeLine: (line) => edgeLines.push(line) });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

/** How much of the audio is speech: the fraction of its 20 ms frames louder than -40 dBFS. */
function voicedFraction(mulaw: Uint8Array): number {
  const frames = Math.floor(mulaw.length / FRAME_BYTES);
  let voiced = 0;
  for (let i = 0; i < frames; i++) {
    if (levelDbfs(mulawToPcm(mulaw.subarray(i * FRAME_BYTES, (i + 1) * FRAME_BYTES))) > -40) voiced++;
  }
  return frames ? voiced / frames : 0;
}

const coreLines = (callSid: string, message?: string): CoreLogLine[] =>
  stack.core.lines.filter((l) => l.json?.call_id === callSid && (message === undefined || l.json.message === message));

function callArgs(lines = script.lines) {
  return { url: stack.edge.url, authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN, script: { ...script, lines }, timeoutMs: 20_000 };
}

// The first two tests place calls that log no warnings: they run side by side. The malformed frames
// come after them, as the edge logs those to stderr, where the first test looks for errors.
describe("a call through edge, core and emulators", () => {
  it.concurrent("greets, answers each of three caller turns with speech, and logs one TURN line per turn", async ({ expect }) => {
    const report = await runCall(callArgs());

    expect(report.errors).toEqual([]);
    // The greeting came from the edge's KV before the caller spoke, and it is speech.
    expect(report.greeting_ms).not.toBeNull();
    expect(report.greeting_audio.length).toBeGreaterThan(FRAME_BYTES * 25);
    expect(voicedFraction(report.greeting_audio)).toBeGreaterThan(0.4);

    expect(report.turns.map((t) => t.caller_text)).toEqual(script.lines);
    for (const turn of report.turns) {
      expect(turn.agent_text.length).toBeGreaterThan(0);
      expect(turn.agent_audio_ms).toBeGreaterThan(500);
      expect(voicedFraction(turn.agent_audio)).toBeGreaterThan(0.4);
      expect(turn.caller_latency_ms).toBeGreaterThan(0);
    }
    // Three different questions, three different answers.
    expect(new Set(report.turns.map((t) => t.agent_text)).size).toBe(3);

    await expect.poll(() => coreLines(report.call_sid, "TURN").length, { timeout: 5_000 }).toBe(3);
    for (const line of coreLines(report.call_sid, "TURN")) {
      for (const metric of TURN_METRICS) expect(line.json?.[metric], metric).toEqual(expect.any(Number));
      expect(line.json?.["logging.googleapis.com/labels"]).toEqual({ call_id: report.call_sid });
    }
    await expect.poll(() => coreLines(report.call_sid, "CALL").length, { timeout: 5_000 }).toBe(1);

    const errors = [
      ...stack.core.lines.filter((l) => ["ERROR", "CRITICAL", "ALERT", "EMERGENCY"].includes(String(l.json?.severity)) || l.stream === "stderr"),
      ...edgeLines.filter((l) => l.level === "error" || l.json?.severity === "ERROR"),
    ];
    expect(errors.map((l) => l.text)).toEqual([]);
  });

  it.concurrent("builds the app and its clients once, however many calls it serves", async ({ expect }) => {
    const reports = await Promise.all([0, 1, 2].map(() => runCall(callArgs(script.lines.slice(0, 1)))));
    for (const report of reports) {
      expect(report.errors).toEqual([]);
      expect(report.turns[0]?.agent_audio_ms).toBeGreaterThan(500);
    }
    const health = (await coreHealth(stack.core.url, LOCAL_SECRETS.CORE_SHARED_SECRET)) as { status: string; constructions: Record<string, number> };
    expect(Object.keys(health.constructions).length).toBeGreaterThanOrEqual(4);
    for (const [what, count] of Object.entries(health.constructions)) expect(count, what).toBe(1);
    expect(stack.core.lines.filter((l) => l.json?.message === "APP_START")).toHaveLength(1);
  });

  it("drops malformed frames on either socket with a logged reason, without disturbing another call", async () => {
    const call = runCall(callArgs(script.lines.slice(0, 1)));

    // A caller socket signed like Twilio's, that sends garbage after a valid start.
    const streamUrl = `${stack.edge.url.replace(/^http/, "ws")}/twilio/media`;
    const hostileSid = `CA${"e".repeat(32)}`;
    const twilio = new WebSocket(streamUrl, {
      headers: { "x-twilio-signature": await twilioSignature(LOCAL_SECRETS.TWILIO_AUTH_TOKEN, streamUrl) },
    });
    await new Promise((resolve, reject) => twilio.once("open", resolve).once("error", reject));
    twilio.send(JSON.stringify(await signedStart({ accountSid: LOCAL_ACCOUNT_SID, callSid: hostileSid, streamSid: `MZ${hostileSid.slice(2)}` }, LOCAL_SECRETS.STREAM_TOKEN_SECRET)));
    twilio.send(Buffer.from([1, 2, 3]));
    twilio.send("this is not json");
    twilio.send(JSON.stringify({ event: "media", sequenceNumber: "2", streamSid: "MZ1", media: { track: "inbound", chunk: "1", timestamp: "0", payload: "%%%" } }));

    // The edge's own link to the core, used directly with a valid token, sending garbage too.
    const coreSid = `CA${"f".repeat(32)}`;
    const link = new WebSocket(`${stack.core.url.replace(/^http/, "ws")}/call`, {
      headers: { Authorization: `Bearer ${await signCoreToken(LOCAL_SECRETS.CORE_SHARED_SECRET, "call", coreSid, Date.now())}` },
    });
    await new Promise((resolve, reject) => link.once("open", resolve).once("error", reject));
    link.send(JSON.stringify(startFrame(coreSid)));
    link.send("{broken");
    link.send(JSON.stringify({ event: "dtmf", streamSid: "MZ1" }));

    const report = await call;
    expect(report.errors).toEqual([]);
    expect(report.turns[0]?.agent_audio_ms).toBeGreaterThan(500);

    await expect
      .poll(() => edgeLines.filter((l) => l.json?.message === "frame dropped" && l.json.call_id === hostileSid).length)
      .toBeGreaterThanOrEqual(2);
    await expect
      .poll(() => coreLines(hostileSid).filter((l) => l.json?.message === "frame dropped").length)
      .toBeGreaterThanOrEqual(1);
    await expect.poll(() => coreLines(coreSid).filter((l) => l.json?.message === "frame dropped").length).toBe(2);
    for (const line of [...coreLines(hostileSid), ...coreLines(coreSid)].filter((l) => l.json?.message === "frame dropped")) {
      expect(String(line.json?.reason)).not.toBe("");
    }
    twilio.close();
    link.close();
  });
});

describe("the media stream's door", () => {
  /** A socket with the real upgrade signature (the same for every stream: anyone who saw one has it). */
  async function strangerSocket(): Promise<{ socket: WebSocket; received: string[]; closed: Promise<{ code: number; at: number }> }> {
    const streamUrl = `${stack.edge.url.replace(/^http/, "ws")}/twilio/media`;
    const socket = new WebSocket(streamUrl, { headers: { "x-twilio-signature": await twilioSignature(LOCAL_SECRETS.TWILIO_AUTH_TOKEN, streamUrl) } });
    const received: string[] = [];
    socket.on("message", (data) => received.push(String(data)));
    const closed = new Promise<{ code: number; at: number }>((resolve) => socket.on("close", (code) => resolve({ code, at: performance.now() })));
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
    return { socket, received, closed };
  }

  it("a forged start, or a replay of a live call's start, gets 1008 within a second: no greeting, no core session, no recognition stream", async () => {
    // A real call, as Twilio places it: the signed webhook mints its stream token, its stream holds the call.
    const ids = { accountSid: LOCAL_ACCOUNT_SID, callSid: newSid("CA"), streamSid: newSid("MZ") };
    const twiml = await requestStreamTwiml(stack.edge.url, LOCAL_SECRETS.TWILIO_AUTH_TOKEN, { CallSid: ids.callSid, AccountSid: ids.accountSid, From: "+972501234567", To: "+97231234567" }, 10_000);
    const realStart = startMessage(1, ids, twiml.parameters);
    const real = await strangerSocket();
    real.socket.send(JSON.stringify(realStart));
    await expect.poll(() => real.received.some((frame) => frame.includes('"name":"greeting"')), { timeout: 10_000 }).toBe(true);
    // A second of the caller's line: the core opens its recognition stream with the first audio.
    for (let n = 0; n < 50; n++) real.socket.send(JSON.stringify(mediaMessage(n + 2, ids.streamSid, n, new Uint8Array(FRAME_BYTES).fill(0xff))));

    const forgedSid = newSid("CA");
    const attempts = [
      // A CallSid of the attacker's choosing, no token.
      startMessage(1, { ...ids, callSid: forgedSid, streamSid: newSid("MZ") }, { callSid: forgedSid }),
      // The live call's own start, token and all, replayed on a second socket.
      { ...realStart, streamSid: newSid("MZ") },
      realStart,
    ];
    for (const start of attempts) {
      const stranger = await strangerSocket();
      const sentAt = performance.now();
      stranger.socket.send(JSON.stringify(start));
      const { code, at } = await stranger.closed;
      expect(code).toBe(1008);
      expect(at - sentAt).toBeLessThan(1000);
      expect(stranger.received).toEqual([]);
    }
    // Once the real call is over: the core served it once, and never heard of the forged one.
    real.socket.close();
    await expect.poll(() => coreLines(ids.callSid, "CALL").length, { timeout: 10_000 }).toBe(1);
    expect(coreLines(ids.callSid, "CALL_START")).toHaveLength(1);
    expect(stack.emulators.speech.stats.calls.get(ids.callSid)?.streamsOpened).toBe(1);
    expect(coreLines(forgedSid)).toEqual([]);
    expect(stack.emulators.speech.stats.calls.has(forgedSid)).toBe(false);
  });
});

function startFrame(callSid: string) {
  return {
    event: "start",
    sequenceNumber: "1",
    streamSid: `MZ${callSid.slice(2)}`,
    start: {
      accountSid: `AC${"0".repeat(32)}`,
      streamSid: `MZ${callSid.slice(2)}`,
      callSid,
      tracks: ["inbound"],
      customParameters: {},
      mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
    },
  };
}
