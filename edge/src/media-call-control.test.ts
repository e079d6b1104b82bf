// Call control through the relay, in workerd: the core ends a call (core.end) and the caller's
// stream closes after the last audio, then Twilio's <Connect action> gets a hang-up; a transfer
// nobody takes brings the caller back on a new stream that resumes the conversation (no greeting);
// a core that does not come back within the reconnect budget closes the stream and the caller gets
// the human fallback. The core is faked inside this isolate, as in media-stalls.test.ts; the ledger
// and the routes are the real ones.
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { twilioSignature } from "@voice/protocol/twilio-signature";
import { startMessage, type StreamIds } from "../../infra/twilio/media-stream-frames.js";
import { signedStart, streamIds } from "../../infra/twilio/stream-start.js";
import type { Env } from "./env.js";
import app from "./index.js";
import { mediaStreamUrl } from "./signature.js";
import { captureLogLines, Changes } from "../testing/changes.js";

const CORE_URL = "http://core.control.test";
const STAFF = "+97231234567";
const FALLBACK = "+97239876543";
const VARS: Env = { ...env, CORE_URL, STAFF_NUMBER: STAFF, FALLBACK_NUMBER: FALLBACK };
const BASE = "https://edge.example.test";
const XML = '<?xml version="1.0" encoding="UTF-8"?>';
const AUDIO = '{"event":"media","streamSid":"MZ","media":{"payload":"/w=="}}';

const changes = new Changes();
const logs: Record<string, unknown>[] = [];
/** The core's end of each call link: the frames it received, and its socket to answer on. */
const links: Array<{ frames: string[]; socket: WebSocket }> = [];
/** Calls whose core refuses every link (down for good); their first link is let through, then closed as lost. */
const coreDown = new Set<string>();

async function linkOf(callSid: string, nth = 0): Promise<{ frames: string[]; socket: WebSocket }> {
  const find = () => links.filter((link) => link.frames[0]?.includes(callSid))[nth];
  await changes.until(() => find() !== undefined && find()!.frames.length >= 2, `core link ${nth} of ${callSid}`);
  return find()!;
}

interface Caller {
  received: string[];
  closed: Promise<{ code: number; reason: string }>;
  socket: WebSocket;
}

/** A caller's media stream, started with `start`. */
async function caller(start: object, vars: Env = VARS): Promise<Caller> {
  const signature = await twilioSignature(env.TWILIO_AUTH_TOKEN, mediaStreamUrl(vars.PUBLIC_URL), {});
  const response = await app.fetch(new Request("http://edge.internal/twilio/media", { headers: { upgrade: "websocket", "x-twilio-signature": signature } }), vars);
  expect(response.status).toBe(101);
  const socket = response.webSocket!;
  const received: string[] = [];
  socket.addEventListener("message", (event) => {
    received.push(String(event.data));
    changes.changed();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.addEventListener("close", (event) => {
      socket.close(); // workerd wants both ends closed
      resolve({ code: event.code, reason: event.reason });
    }),
  );
  socket.accept();
  socket.send(JSON.stringify(start));
  return { received, closed, socket };
}

/** Twilio asks a call-control action, signed, with the call's standard parameters. */
async function twilioAsks(path: string, ids: StreamIds, extra: Record<string, string> = {}, vars: Env = VARS): Promise<string> {
  const params = { CallSid: ids.callSid, AccountSid: ids.accountSid, From: "+972501234567", To: "+97231111111", CallStatus: "in-progress", ...extra };
  const request = new Request(`http://edge.internal${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": await twilioSignature(env.TWILIO_AUTH_TOKEN, BASE + path, params) },
    body: new URLSearchParams(params).toString(),
  });
  const ctx = createExecutionContext();
  const response = await app.fetch(request, vars, ctx);
  await waitOnExecutionContext(ctx);
  expect(response.status).toBe(200);
  return response.text();
}

beforeAll(() => {
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
    const request = new Request(input, init);
    if (!request.url.startsWith(CORE_URL)) return realFetch(input, init);
    const [worker, core] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    const link = { frames: [] as string[], socket: core };
    core.addEventListener("message", (event) => {
      const frame = String(event.data);
      link.frames.push(frame);
      // A core that dies right after the call began: the link is lost, and every later open is refused.
      const down = [...coreDown].some((callSid) => link.frames[0]?.includes(callSid));
      if (down && link.frames.length === 2) core.close(1011, "core crashed");
      changes.changed();
    });
    core.addEventListener("close", () => core.close());
    core.accept();
    const callSids = [...coreDown];
    return new Promise((resolve, reject) => {
      // The first open of a down call is let through (the call must begin); the rest are refused.
      const refused = links.some((l) => callSids.some((sid) => l.frames[0]?.includes(sid)));
      if (refused) return reject(new Error("connection refused"));
      links.push(link);
      resolve(new Response(null, { status: 101, webSocket: worker }));
    });
  });
  captureLogLines(logs, changes);
});
afterAll(() => vi.restoreAllMocks());

describe("the agent hangs up (core.end)", () => {
  it("closes the caller's stream normally after the last audio, and Twilio's action then gets a hang-up", { timeout: 20_000 }, async () => {
    const ids = streamIds(1, 0xc7);
    const call = await caller(await signedStart(ids, env.STREAM_TOKEN_SECRET, { customParameters: { from: "+972501234567" } }));
    const core = await linkOf(ids.callSid);
    expect(JSON.parse(core.frames[1]!)).toMatchObject({ event: "edge.greeting", recordUrl: `${BASE}/calls/record` });
    core.socket.send(AUDIO);
    core.socket.send(JSON.stringify({ event: "core.end", reason: "agent" }));
    // The core goes at once, however its link ends: that is the end it announced, not a loss to repair.
    core.socket.close(1011, "core gone after its goodbye");
    expect(await call.closed).toEqual({ code: 1000, reason: "core ended the call" });
    // The goodbye's audio reached the caller; the control message did not.
    expect(call.received).toEqual([AUDIO]);
    expect(links.filter((link) => link.frames[0]?.includes(ids.callSid))).toHaveLength(1);
    expect(logs.filter((line) => line.call_id === ids.callSid && line.message === "core link lost")).toEqual([]);
    expect(await twilioAsks("/twilio/stream-ended", ids)).toBe(`${XML}<Response><Hangup/></Response>`);
  });
});

describe("a transfer nobody takes", () => {
  it("dials the staff, then brings the caller back on a new stream that resumes the conversation with the outcome, without the greeting", { timeout: 20_000 }, async () => {
    const ids = streamIds(2, 0xc7);
    const call = await caller(await signedStart(ids, env.STREAM_TOKEN_SECRET));
    const core = await linkOf(ids.callSid);
    const state = { turns: 2, history: [{ role: "user", content: "אני רוצה לדבר עם מישהו" }] };
    core.socket.send(JSON.stringify({ event: "core.state", state }));
    core.socket.send(JSON.stringify({ event: "core.end", reason: "transfer", transferReason: "בקשה לנציג" }));
    expect(await call.closed).toMatchObject({ code: 1000 });
    expect(await twilioAsks("/twilio/stream-ended", ids)).toContain(`<Number url="${BASE}/twilio/whisper?call=${ids.callSid}">${STAFF}</Number>`);

    const reconnect = await twilioAsks("/twilio/dial-ended", ids, { DialCallStatus: "no-answer" });
    const parameters = Object.fromEntries([...reconnect.matchAll(/<Parameter name="([^"]+)" value="([^"]+)"\/>/g)].map((m) => [m[1]!, m[2]!]));
    const returned = { ...ids, streamSid: `MZ${"7".repeat(32)}` };
    const back = await caller(startMessage(1, returned, parameters));
    const resumed = await linkOf(ids.callSid, 1);
    expect(JSON.parse(resumed.frames[1]!)).toEqual({ event: "edge.resume", state, attempt: 1, recordUrl: `${BASE}/calls/record`, transfer: { outcome: "no-answer" } });
    // The caller heard the greeting on the first stream only.
    const greetings = logs.filter((line) => line.call_id === ids.callSid && String(line.message).startsWith("greeting phrase"));
    expect(greetings).toHaveLength(1);
    back.socket.close(1000, "test over");
    await back.closed;
  });
});

describe("the core does not come back", () => {
  it("closes the caller's stream once the reconnect budget is spent, and Twilio's action then gets the human fallback", { timeout: 20_000 }, async () => {
    const ids = streamIds(3, 0xc7);
    coreDown.add(ids.callSid);
    const vars: Env = { ...VARS, RECONNECT_BUDGET_MS: "800" };
    const call = await caller(await signedStart(ids, env.STREAM_TOKEN_SECRET), vars);
    expect(await call.closed).toEqual({ code: 1011, reason: "core did not come back" });
    expect(await twilioAsks("/twilio/stream-ended", ids, {}, vars)).toBe(
      `${XML}<Response><Say language="he-IL">מצטערים, יש לנו תקלה. אני מעבירה אתכם לצוות המרפאה.</Say><Dial>${FALLBACK}</Dial></Response>`,
    );
  });
});
