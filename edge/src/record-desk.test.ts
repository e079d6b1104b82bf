// The record desk in workerd: the core's part through POST /calls/record, the edge's notes, and the
// record that reaches the business's receiver, signed, once. The receiver is stood in for in this
// isolate (the desk's POST to CALL_RECORD_URL is answered here, as the core is in media-hostile.test.ts);
// the desk's alarms run on their own when due now, and through runDurableObjectAlarm when they
// would wait seconds to hours.
import { env, exports } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CORE_RECORD_PATH, callRecord, RECORD_SIGNATURE_HEADER, RECORD_TIMESTAMP_HEADER, verifyRecordSignature, type CallRecord, type CoreRecordPart } from "@voice/protocol/call-record";
import type { ConversationState } from "@voice/protocol/core-link";
import { signCoreToken, type CoreTokenPurpose } from "@voice/protocol/core-token";
import app from "./index.js";
import { LOST_CORE_SUMMARY_ERROR } from "./record-assembly.js";
import type { CallRecordDesk } from "./record-desk.js";
import { MAX_RECORD_PART_BYTES } from "./record-route.js";

/** Words no log line may carry. */
const CALLER_WORDS = "שמי דנה ואני צריכה תור דחוף";

const sid = (n: number) => `CA000000000000000000000000000R${String(n).padStart(4, "0")}`;

function partOf(callSid: string, over: Partial<CoreRecordPart> = {}): CoreRecordPart {
  return {
    callSid,
    conversation: [
      { speaker: "agent", text: "שלום, במה אפשר לעזור?" },
      { speaker: "caller", text: CALLER_WORDS },
    ],
    tools: [],
    callback: { name: "דנה", phone: "0501234567", reason: "תור דחוף" },
    summary: "דנה ביקשה תור דחוף.",
    outcome: { intent: "book an appointment", name: "דנה", callbackRequested: true, callbackReason: "תור דחוף" },
    endReason: "agent",
    ...over,
  };
}

const STATE: ConversationState = {
  turns: 1,
  history: [
    { role: "assistant", content: "שלום, במה אפשר לעזור?" },
    { role: "user", content: CALLER_WORDS },
  ],
};

/** Things arriving one by one; `until` awaits a condition on them with a generous bound. */
class Inbox<T> {
  readonly items: T[] = [];
  private waiters: (() => void)[] = [];

  push(item: T): void {
    this.items.push(item);
    for (const wake of this.waiters.splice(0)) wake();
  }

  async until(done: (items: T[]) => boolean, what: string): Promise<T[]> {
    const deadline = Date.now() + 10_000;
    while (!done(this.items)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 500);
      });
    }
    return this.items;
  }
}

interface Delivery {
  callSid: string;
  raw: string;
  record: CallRecord;
  timestamp: string | null;
  signature: string | null;
}

/** The business's receiver: every POST to CALL_RECORD_URL, answered with the status scripted for its call (204 when none is). */
class Receiver {
  readonly deliveries = new Inbox<Delivery>();
  private readonly answers = new Map<string, number[]>();

  answer(callSid: string, ...statuses: number[]): void {
    this.answers.set(callSid, statuses);
  }

  async take(request: Request): Promise<Response> {
    const raw = await request.text();
    const record = callRecord.parse(JSON.parse(raw));
    this.deliveries.push({ callSid: record.callSid, raw, record, timestamp: request.headers.get(RECORD_TIMESTAMP_HEADER), signature: request.headers.get(RECORD_SIGNATURE_HEADER) });
    return new Response(null, { status: this.answers.get(record.callSid)?.shift() ?? 204 });
  }

  of(callSid: string): Delivery[] {
    return this.deliveries.items.filter((delivery) => delivery.callSid === callSid);
  }
}

const desk = (callSid: string) => env.RECORDS.get(env.RECORDS.idFromName(callSid));

/** What the desk still keeps in storage. */
const storedKeys = (callSid: string) => runInDurableObject(desk(callSid), async (_: CallRecordDesk, state) => [...(await state.storage.list()).keys()].sort());

async function postPart(body: string, token: string | undefined, headers: Record<string, string> = {}, workerEnv = env): Promise<Response> {
  const request = new Request(`http://edge.internal${CORE_RECORD_PATH}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers },
    body,
  });
  return workerEnv === env ? exports.default.fetch(request) : app.fetch(request, workerEnv);
}

const recordToken = (callSid: string, purpose: CoreTokenPurpose = "record", secret = env.CORE_SHARED_SECRET, at = Date.now()) => signCoreToken(secret, purpose, callSid, at);

describe("the call record desk", () => {
  const receiver = new Receiver();
  const logs = new Inbox<Record<string, unknown>>();
  const realFetch = globalThis.fetch;

  beforeAll(() => {
    vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
      const request = new Request(input, init);
      return request.url === env.CALL_RECORD_URL ? receiver.take(request) : realFetch(input, init);
    });
    const capture = (line: unknown) => logs.push(typeof line === "string" && line.startsWith("{") ? (JSON.parse(line) as Record<string, unknown>) : { raw: line });
    vi.spyOn(console, "log").mockImplementation(capture);
    vi.spyOn(console, "error").mockImplementation(capture);
  });
  afterAll(() => {
    vi.restoreAllMocks();
    // Callers' words never reach a log line, whatever happened above.
    expect(logs.items.filter((line) => JSON.stringify(line).includes("דנה"))).toEqual([]);
  });

  const linesOf = (callSid: string) => logs.items.filter((line) => line.call_id === callSid);

  it("the core's part after the end: one signed record reaches the receiver at once, and a late part is dropped", async () => {
    const callSid = sid(1);
    const startedAt = Date.now() - 95_000;
    await desk(callSid).noteStart({ callSid, from: "+972501234567", to: "+97231234567", startedAt });
    await desk(callSid).noteState(STATE);
    await desk(callSid).noteEnd({ endReason: "agent", endedAt: startedAt + 90_000 });
    expect(receiver.of(callSid)).toEqual([]); // waiting for the core's part

    const response = await postPart(JSON.stringify(partOf(callSid)), await recordToken(callSid));
    expect(response.status).toBe(204);
    await receiver.deliveries.until(() => receiver.of(callSid).length === 1, "the record");
    const [delivery] = receiver.of(callSid);
    expect(await verifyRecordSignature(env.CALL_RECORD_SECRET!, delivery!, delivery!.raw, Date.now())).toEqual({ ok: true });
    expect(delivery!.record).toMatchObject({
      recordId: callSid,
      from: "+972501234567",
      to: "+97231234567",
      durationMs: 90_000,
      endReason: "agent",
      summary: "דנה ביקשה תור דחוף.",
      callback: { name: "דנה", phone: "0501234567", reason: "תור דחוף" },
      transfer: null,
    });
    expect(delivery!.record.conversation.at(-1)).toEqual({ speaker: "caller", text: CALLER_WORDS });
    await logs.until(() => linesOf(callSid).some((line) => line.message === "call record delivered"), "the delivered line");

    // Delivered: the notes are gone, only the tombstone stays; a part now is dropped, never sent.
    expect(await storedKeys(callSid)).toEqual(["callSid", "delivery"]);
    expect((await postPart(JSON.stringify(partOf(callSid, { summary: "שוב" })), await recordToken(callSid))).status).toBe(204);
    await logs.until(() => linesOf(callSid).some((line) => String(line.message).includes("dropped")), "the dropped line");
    await desk(callSid).noteEnd({ endReason: "agent", endedAt: startedAt + 90_000 });
    expect(await runDurableObjectAlarm(desk(callSid))).toBe(true); // the tombstone's alarm: forgotten
    expect(await storedKeys(callSid)).toEqual([]);
    expect(receiver.of(callSid)).toHaveLength(1);
  });

  it("a core that never reports: after the wait, the record from the last state, without a summary", async () => {
    const callSid = sid(2);
    const startedAt = Date.now() - 30_000;
    await desk(callSid).noteStart({ callSid, from: "+972501234567", to: "+97231234567", startedAt });
    await desk(callSid).noteState(STATE);
    await desk(callSid).noteEnd({ endReason: "fallback", endedAt: startedAt + 30_000 });
    expect(await runDurableObjectAlarm(desk(callSid))).toBe(true); // RECORD_WAIT_MS is over
    const [delivery] = receiver.of(callSid);
    expect(delivery!.record).toMatchObject({ endReason: "fallback", summary: null, outcome: null, summaryError: LOST_CORE_SUMMARY_ERROR });
    expect(delivery!.record.conversation).toEqual([
      { speaker: "agent", text: "שלום, במה אפשר לעזור?" },
      { speaker: "caller", text: CALLER_WORDS },
    ]);
  });

  it("a call back from a transfer: the first core's late part neither ends the wait nor replaces the second core's fuller one", async () => {
    const callSid = sid(5);
    const startedAt = Date.now() - 60_000;
    const facts = { callSid, from: "+972501234567", to: "+97231234567", startedAt };
    const first = partOf(callSid, { endReason: "transfer", summary: "ביקש נציג." });
    const second = partOf(callSid, { conversation: [...first.conversation, { speaker: "agent", text: "איש לא ענה. להשאיר הודעה?" }], summary: "איש לא ענה; השאיר הודעה." });
    await desk(callSid).noteStart(facts);
    await desk(callSid).noteState(STATE);
    await desk(callSid).noteStart(facts); // the caller is back on a new stream
    await desk(callSid).noteState({ turns: 2, history: [...STATE.history, { role: "assistant", content: "איש לא ענה. להשאיר הודעה?" }] });
    await desk(callSid).noteCorePart(first); // late: it arrives after the return
    await desk(callSid).noteEnd({ endReason: "agent", endedAt: startedAt + 60_000, transfer: { to: "+97231110000", outcome: "no-answer", returnedToAgent: true } });
    await desk(callSid).noteCorePart(first); // later still, while the desk waits
    expect(receiver.of(callSid)).toEqual([]); // the first core's part does not speak for the call
    await desk(callSid).noteCorePart(second);
    await receiver.deliveries.until(() => receiver.of(callSid).length === 1, "the record");
    expect(receiver.of(callSid)[0]!.record).toMatchObject({ summary: "איש לא ענה; השאיר הודעה.", transfer: { returnedToAgent: true } });
    expect(receiver.of(callSid)[0]!.record.conversation).toHaveLength(3);
  });

  it("a receiver that is down (503, then 429) gets the same record again, freshly signed, until it takes it", async () => {
    const callSid = sid(3);
    receiver.answer(callSid, 503, 429);
    await desk(callSid).noteStart({ callSid, from: null, to: null, startedAt: Date.now() - 10_000 });
    await desk(callSid).noteCorePart(partOf(callSid));
    await desk(callSid).noteEnd({ endReason: "caller", endedAt: Date.now() });
    await receiver.deliveries.until(() => receiver.of(callSid).length === 1, "the first attempt");
    await logs.until(() => linesOf(callSid).some((line) => line.message === "call record delivery failed; will retry"), "the retry line");
    expect(await runDurableObjectAlarm(desk(callSid))).toBe(true); // the 5 s backoff: 429
    expect(await runDurableObjectAlarm(desk(callSid))).toBe(true); // the 30 s backoff: 204
    const attempts = receiver.of(callSid);
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts.map((attempt) => attempt.raw)).size).toBe(1);
    for (const attempt of attempts) expect(await verifyRecordSignature(env.CALL_RECORD_SECRET!, attempt, attempt.raw, Date.now())).toEqual({ ok: true });
    expect(linesOf(callSid).filter((line) => line.message === "call record delivered")).toHaveLength(1);
    expect(await storedKeys(callSid)).toEqual(["callSid", "delivery"]);
  });

  it("a receiver that refuses the record (400) is not asked again: one ERROR line, the notes deleted", async () => {
    const callSid = sid(4);
    receiver.answer(callSid, 400);
    await desk(callSid).noteStart({ callSid, from: null, to: null, startedAt: Date.now() - 10_000 });
    await desk(callSid).noteEnd({ endReason: "caller", endedAt: Date.now() });
    expect(await runDurableObjectAlarm(desk(callSid))).toBe(true);
    expect(receiver.of(callSid)).toHaveLength(1);
    expect(linesOf(callSid).filter((line) => line.severity === "ERROR")).toEqual([expect.objectContaining({ message: "call record refused by the receiver; not sent again", status: 400 })]);
    expect(await storedKeys(callSid)).toEqual(["callSid", "delivery"]);
  });
});

describe("POST /calls/record", () => {
  const callSid = sid(10);
  const body = JSON.stringify(partOf(callSid));
  let warnings: Record<string, unknown>[] = [];

  beforeAll(() => {
    const capture = (line: unknown) => warnings.push(typeof line === "string" && line.startsWith("{") ? (JSON.parse(line) as Record<string, unknown>) : { raw: line });
    vi.spyOn(console, "log").mockImplementation(capture);
    vi.spyOn(console, "error").mockImplementation(capture);
  });
  afterAll(() => {
    vi.restoreAllMocks();
    expect(warnings.filter((line) => JSON.stringify(line).includes("דנה"))).toEqual([]);
  });

  /** The status and the one-line reason of a refusal; the desk got nothing. */
  async function refused(response: Response): Promise<{ status: number; error: string }> {
    const answer = await response.json<{ error: string }>();
    return { status: response.status, error: answer.error };
  }

  it("refuses a request without a valid record token for the call (401), or with a token for something else (403)", async () => {
    const tampered = (await recordToken(callSid)).replace(callSid, sid(11));
    const cases: [string | undefined, number, string][] = [
      [undefined, 401, "missing token"],
      ["not-a-token", 401, "malformed token"],
      [await recordToken(callSid, "record", "another-secret"), 401, "bad token signature"],
      [tampered, 401, "bad token signature"],
      [await recordToken(callSid, "record", env.CORE_SHARED_SECRET, Date.now() - 10 * 60_000), 401, "expired token"],
      [await recordToken(callSid, "call"), 403, "token not for record"],
      [await recordToken(sid(11)), 403, "the token is for another call"],
    ];
    for (const [token, status, error] of cases) expect(await refused(await postPart(body, token)), error).toEqual({ status, error });
    expect(await storedKeys(callSid)).toEqual([]);
    expect(warnings.filter((line) => line.message === "core record part refused")).toHaveLength(cases.length);
  });

  it("takes a token signed with the previous secret while CORE_SHARED_SECRET is rotated", async () => {
    const rotating = { ...env, CORE_SHARED_SECRET: "the-new-secret", CORE_SHARED_SECRET_PREVIOUS: env.CORE_SHARED_SECRET };
    expect((await postPart(body, await recordToken(callSid), {}, rotating)).status).toBe(204);
    expect(await storedKeys(callSid)).toContain("part");
  });

  it("refuses a body that is not a core part with a one-line reason, and a body over the cap (declared or not)", async () => {
    const token = await recordToken(sid(12));
    const part = partOf(sid(12));
    expect(await refused(await postPart("{not json", token))).toEqual({ status: 400, error: "body is not JSON" });
    expect(await refused(await postPart(JSON.stringify({ ...part, conversation: [{ speaker: "robot", text: CALLER_WORDS }] }), token))).toEqual({
      status: 400,
      error: expect.stringMatching(/^not a core record part: conversation\.0\.speaker: /),
    });
    expect(await refused(await postPart(JSON.stringify({ ...part, summary: "x".repeat(2001) }), token))).toEqual({ status: 400, error: expect.stringContaining("summary") });
    expect(await refused(await postPart(body, token, { "content-type": "text/plain" }))).toEqual({ status: 415, error: "not application/json" });
    const huge = JSON.stringify({ ...part, conversation: Array.from({ length: 400 }, () => ({ speaker: "caller", text: "א".repeat(4000) })) });
    expect(huge.length).toBeGreaterThan(MAX_RECORD_PART_BYTES);
    expect((await postPart(huge, token)).status).toBe(413);
    // The same without a declared length (chunked, and endless): read up to the cap, then refused.
    let sent = 0;
    const chunked = new Request(`http://edge.internal${CORE_RECORD_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      // A stream of unknown length (a Blob's stream would carry its size).
      body: new ReadableStream<Uint8Array>({
        pull(controller) {
          sent += 64 * 1024;
          controller.enqueue(new TextEncoder().encode("[".repeat(64 * 1024)));
        },
      }),
    });
    expect(chunked.headers.get("content-length")).toBeNull();
    expect(await refused(await app.fetch(chunked, env))).toEqual({ status: 413, error: "body too large" });
    expect(sent).toBeLessThan(4 * MAX_RECORD_PART_BYTES);
    expect(await storedKeys(sid(12))).toEqual([]);
  });
});
