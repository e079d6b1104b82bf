// Twilio's call-control requests in workerd, against the real call ledger (Durable Object): what a
// caller gets once the stream ends or a transfer's dial ends, and what the staff member hears. The
// ledger is put in each state as the relay would put it (its RPC methods), then Twilio asks.
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { CoreEndReason } from "@voice/protocol/call-control";
import { verifyStreamToken } from "@voice/protocol/stream-token";
import { twilioSignature } from "@voice/protocol/twilio-signature";
import { LOCAL_ACCOUNT_SID } from "../../infra/twilio/stream-start.js";
import { WHISPER_REASON_PREFIX, WHISPER_TEXT } from "./call-control-routes.js";
import { DEFAULT_FALLBACK_TEXT } from "./call-settings.js";
import type { Env } from "./env.js";
import app from "./index.js";

const STAFF = "+97231234567";
const FALLBACK = "+97239876543";
const CALLER = "+972501234567";
const BASE = "https://edge.example.test";
const XML = '<?xml version="1.0" encoding="UTF-8"?>';

let n = 0;
/** A fresh call of our account for each case (the ledger keeps one course per CallSid). */
const newCallSid = () => `CA${(0xc0de0000 + ++n).toString(16).padStart(32, "0")}`;

const ledgerOf = (callSid: string) => env.CALLS.get(env.CALLS.idFromName(callSid));

/** The ledger as a relay leaves it: a stream admitted, then what the core said of its end. */
async function streamed(callSid: string, ending?: { reason: CoreEndReason; transferReason?: string }): Promise<void> {
  const ledger = ledgerOf(callSid);
  expect(await ledger.admit(`MZ1/${callSid}`)).toEqual({ ok: true, opening: { kind: "greet" } });
  if (ending) await ledger.advance({ type: "core ended", at: Date.now(), ...ending });
  await ledger.release(`MZ1/${callSid}`);
}

/** POSTs a form to `path` signed as Twilio signs it, over `signedUrl` (the URL the edge gave Twilio). */
async function twilio(path: string, params: Record<string, string>, bindings: Partial<Env> = {}, signedUrl = BASE + path, token = env.TWILIO_AUTH_TOKEN) {
  const request = new Request(`http://edge.internal${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": await twilioSignature(token, signedUrl, params) },
    body: new URLSearchParams(params).toString(),
  });
  const ctx = createExecutionContext();
  const response = await app.fetch(request, { ...env, ...bindings }, ctx);
  await waitOnExecutionContext(ctx);
  return { status: response.status, twiml: await response.text() };
}

const actionParams = (callSid: string, extra: Record<string, string> = {}) => ({
  CallSid: callSid,
  AccountSid: LOCAL_ACCOUNT_SID,
  From: CALLER,
  To: "+97231111111",
  CallStatus: "in-progress",
  ...extra,
});

const logs: Record<string, unknown>[] = [];
beforeEach(() => {
  logs.length = 0;
  const capture = (line: unknown) => void logs.push(JSON.parse(String(line)) as Record<string, unknown>);
  vi.spyOn(console, "log").mockImplementation(capture);
  vi.spyOn(console, "error").mockImplementation(capture);
});
afterEach(() => vi.restoreAllMocks());

describe("the call-control routes refuse what Twilio did not sign for a call of ours", () => {
  it("answers 403 to a bad signature, a signature over another route, and another account's call", async () => {
    const callSid = newCallSid();
    for (const path of ["/twilio/stream-ended", "/twilio/dial-ended"]) {
      expect((await twilio(path, actionParams(callSid), {}, BASE + path, "not-the-token")).status).toBe(403);
      expect((await twilio(path, actionParams(callSid), {}, `${BASE}/twilio/voice`)).status).toBe(403);
      expect((await twilio(path, actionParams(callSid, { AccountSid: "AC" + "e".repeat(32) }))).status).toBe(403);
    }
    const whisper = `/twilio/whisper?call=${callSid}`;
    expect((await twilio(whisper, actionParams(newCallSid()), {}, BASE + whisper, "not-the-token")).status).toBe(403);
    // The transferred call is the one the signed URL names: another in the URL breaks the signature.
    expect((await twilio(`/twilio/whisper?call=${newCallSid()}`, actionParams(newCallSid()), {}, BASE + whisper)).status).toBe(403);
    expect(logs.filter((line) => String(line.message).endsWith("rejected"))).toHaveLength(8);
  });
});

describe("POST /twilio/stream-ended", () => {
  it("hangs up after the agent's goodbye and after the caller hung up, and never sends them to the fallback", async () => {
    const agent = newCallSid();
    await streamed(agent, { reason: "agent" });
    expect(await twilio("/twilio/stream-ended", actionParams(agent), { FALLBACK_NUMBER: FALLBACK })).toEqual({ status: 200, twiml: `${XML}<Response><Hangup/></Response>` });
    const gone = newCallSid();
    await streamed(gone);
    const hungUp = await twilio("/twilio/stream-ended", actionParams(gone, { CallStatus: "completed" }), { FALLBACK_NUMBER: FALLBACK });
    expect(hungUp.twiml).toBe(`${XML}<Response><Hangup/></Response>`);
    expect(logs).toContainEqual(expect.objectContaining({ message: "call directed", callSid: gone, direction: "hang up", endReason: "caller" }));
  });

  it("dials the staff for a transfer: the dial's action, timeout, the caller's number as caller id, and the whisper", async () => {
    const callSid = newCallSid();
    await streamed(callSid, { reason: "transfer", transferReason: "תור דחוף <היום>" });
    const { twiml } = await twilio("/twilio/stream-ended", actionParams(callSid), { STAFF_NUMBER: STAFF, TRANSFER_TIMEOUT_S: "25" });
    expect(twiml).toBe(
      `${XML}<Response><Dial action="${BASE}/twilio/dial-ended" timeout="25" callerId="${CALLER}">` +
        `<Number url="${BASE}/twilio/whisper?call=${callSid}">${STAFF}</Number></Dial></Response>`,
    );
    // The staff member answers: their leg's request names the transferred call as its parent.
    const whisperPath = `/twilio/whisper?call=${callSid}`;
    const whisper = await twilio(whisperPath, { CallSid: newCallSid(), AccountSid: LOCAL_ACCOUNT_SID, ParentCallSid: callSid, CallStatus: "in-progress" });
    expect(whisper.twiml).toBe(`${XML}<Response><Say language="he-IL">${WHISPER_TEXT} ${WHISPER_REASON_PREFIX} תור דחוף &lt;היום&gt;</Say></Response>`);
    // A ParentCallSid naming another call is refused.
    expect((await twilio(whisperPath, { CallSid: newCallSid(), AccountSid: LOCAL_ACCOUNT_SID, ParentCallSid: newCallSid() })).status).toBe(403);
  });

  it("sends a caller whose stream died with nothing said to the fallback: the apology, then FALLBACK_NUMBER or a hang-up", async () => {
    const lost = newCallSid();
    await streamed(lost);
    await ledgerOf(lost).advance({ type: "core lost", at: Date.now() });
    expect((await twilio("/twilio/stream-ended", actionParams(lost), { FALLBACK_NUMBER: FALLBACK })).twiml).toBe(
      `${XML}<Response><Say language="he-IL">${DEFAULT_FALLBACK_TEXT}</Say><Dial>${FALLBACK}</Dial></Response>`,
    );
    // A call the ledger never heard of (the edge failed before it could say anything) and no fallback number.
    const unknown = newCallSid();
    expect((await twilio("/twilio/stream-ended", actionParams(unknown), { FALLBACK_NUMBER: "", FALLBACK_TEXT: "Sorry & goodbye" })).twiml).toBe(
      `${XML}<Response><Say language="he-IL">Sorry &amp; goodbye</Say><Hangup/></Response>`,
    );
  });

  it("sends a transfer with no STAFF_NUMBER straight back to the agent, with one warning line", async () => {
    const callSid = newCallSid();
    await streamed(callSid, { reason: "transfer" });
    const { twiml } = await twilio("/twilio/stream-ended", actionParams(callSid), { STAFF_NUMBER: "" });
    expect(twiml).toMatch(/^<\?xml[^>]+><Response><Connect action="https:\/\/edge\.example\.test\/twilio\/stream-ended"><Stream url="wss:\/\/edge\.example\.test\/twilio\/media">/);
    expect(logs.filter((line) => String(line.message).includes("STAFF_NUMBER"))).toEqual([expect.objectContaining({ severity: "WARNING", callSid })]);
    expect(await ledgerOf(callSid).admit(`MZ2/${callSid}`)).toEqual({ ok: true, opening: { kind: "resume", state: null, transfer: { outcome: "failed" } } });
  });
});

describe("POST /twilio/dial-ended", () => {
  async function ringing(callSid: string): Promise<void> {
    await streamed(callSid, { reason: "transfer", transferReason: "שאלה על חשבונית" });
    await ledgerOf(callSid).advance({ type: "stream ended", at: Date.now(), callStatus: "in-progress", staffNumber: STAFF });
  }

  it("hangs up once the staff member took the call", async () => {
    const callSid = newCallSid();
    await ringing(callSid);
    expect((await twilio("/twilio/dial-ended", actionParams(callSid, { DialCallStatus: "completed" }))).twiml).toBe(`${XML}<Response><Hangup/></Response>`);
  });

  it("brings the caller back to the agent on no-answer or busy: a new stream with a fresh token, which resumes with the outcome", async () => {
    for (const outcome of ["no-answer", "busy"] as const) {
      const callSid = newCallSid();
      await ringing(callSid);
      const state = { turns: 2, history: [{ role: "user" as const, content: "אפשר נציג?" }] };
      await ledgerOf(callSid).advance({ type: "state", at: Date.now(), state });
      const { twiml } = await twilio("/twilio/dial-ended", actionParams(callSid, { DialCallStatus: outcome }));
      expect(twiml).toContain(`<Connect action="${BASE}/twilio/stream-ended"><Stream url="wss://edge.example.test/twilio/media">`);
      expect(twiml).toContain(`<Parameter name="callSid" value="${callSid}"/><Parameter name="from" value="${CALLER}"/>`);
      const token = /<Parameter name="streamToken" value="([^"]+)"\/>/.exec(twiml)?.[1];
      expect(await verifyStreamToken([env.STREAM_TOKEN_SECRET], token, { accountSid: LOCAL_ACCOUNT_SID, callSid }, Date.now())).toEqual({ ok: true });
      expect(await ledgerOf(callSid).admit(`MZ2/${callSid}`)).toEqual({ ok: true, opening: { kind: "resume", state, transfer: { outcome } } });
    }
  });
});
