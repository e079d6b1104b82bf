// The booking service's decisions with plain values: the envelope, the idempotency key, each tool.
import { describe, expect, it } from "vitest";
import { appointmentId, canonicalJson, decideBook, decideCancel, decideKey, fingerprintOf, parseBook, parseToolRequest, type Appointment, type ToolRequest } from "./decide.js";
import { localClock } from "./slots.js";

const KEY = "CA123:call_1";
const body = (fields: Record<string, unknown> = {}) =>
  JSON.stringify({ tool: "book", arguments: { slot: "2026-12-13T09:00", name: "דנה" }, call: { callSid: "CA123", from: "+972501234567" }, idempotencyKey: KEY, ...fields });

describe("the request envelope", () => {
  it("is accepted when the body names this endpoint's tool and the header repeats the body's key", () => {
    const parsed = parseToolRequest(body(), "book", KEY);
    expect(parsed.ok && parsed.request.arguments).toEqual({ slot: "2026-12-13T09:00", name: "דנה" });
  });

  it("is refused (400) with one line naming what is wrong", () => {
    const error = (raw: string, key: string | null = KEY) => {
      const parsed = parseToolRequest(raw, "book", key ?? undefined);
      return parsed.ok ? undefined : [parsed.reply.status, (parsed.reply.body as { error: string }).error];
    };
    expect(error("{not json")).toEqual([400, "body is not JSON"]);
    expect(error(body({ arguments: "slot" }))).toEqual([400, expect.stringMatching(/^arguments: /)]);
    expect(error(body({ call: {} }))).toEqual([400, expect.stringMatching(/^call\.callSid: /)]);
    expect(error(body({ tool: "cancel" }))).toEqual([400, 'tool "cancel" sent to the endpoint of "book"']);
    expect(error(body(), null)).toEqual([400, "missing idempotency-key header"]);
    expect(error(body(), "CA123:call_2")).toEqual([400, "idempotency-key header and body idempotencyKey differ"]);
  });
});

describe("the idempotency key", () => {
  const request = (args: Record<string, unknown>): ToolRequest => ({ tool: "book", arguments: args, call: { callSid: "CA123" }, idempotencyKey: KEY });

  it("a new key acts; a known key with the same request replays the stored reply verbatim", () => {
    const fingerprint = fingerprintOf(request({ slot: "2026-12-13T09:00", name: "דנה" }));
    expect(decideKey(undefined, fingerprint)).toEqual({ kind: "act" });
    const stored = { fingerprint, status: 200, body: '{"result":{"appointment":{"id":"apt-1"}}}' };
    expect(decideKey(stored, fingerprint)).toEqual({ kind: "replay", stored });
  });

  it("the same arguments in another key order are the same request", () => {
    expect(fingerprintOf(request({ name: "דנה", slot: "2026-12-13T09:00" }))).toBe(fingerprintOf(request({ slot: "2026-12-13T09:00", name: "דנה" })));
    expect(canonicalJson({ b: [1, { d: 1, c: null }], a: "x" })).toBe('{"a":"x","b":[1,{"c":null,"d":1}]}');
  });

  it("a known key with another request is refused (422) and nothing is done", () => {
    const stored = { fingerprint: fingerprintOf(request({ slot: "2026-12-13T09:00", name: "דנה" })), status: 200, body: "{}" };
    const decision = decideKey(stored, fingerprintOf(request({ slot: "2026-12-13T09:30", name: "דנה" })));
    expect(decision).toEqual({ kind: "refuse", reply: { status: 422, body: { error: "idempotency-key already used for a different request" } } });
  });
});

describe("book", () => {
  const now = localClock(Date.parse("2026-12-10T08:00:00Z")); // Thursday 10:00 in Israel
  const context = { id: "apt-1", createdAt: "2026-12-10T08:00:00.000Z", now, call: { callSid: "CA123", from: "+972501234567" }, taken: false };
  const args = (slot: string) => ({ slot, name: "דנה", reason: "ניקוי" });

  it("books a free future slot for the caller's number", () => {
    const decision = decideBook(args("2026-12-13T09:00"), context);
    expect(decision.kind).toBe("insert");
    expect(decision.reply).toEqual({
      status: 200,
      body: { result: { appointment: { id: "apt-1", slot: "2026-12-13T09:00", name: "דנה", phone: "+972501234567", reason: "ניקוי" } } },
    });
  });

  it("refuses (409) a taken slot, one that has begun, and a time that is not a slot", () => {
    const refusal = (slot: string, taken = false) => {
      const decision = decideBook(args(slot), { ...context, taken });
      return decision.kind === "reply" ? decision.reply : undefined;
    };
    expect(refusal("2026-12-13T09:00", true)).toEqual({ status: 409, body: { error: "2026-12-13T09:00 is already taken" } });
    expect(refusal("2026-12-10T10:00")).toEqual({ status: 409, body: { error: "2026-12-10T10:00 has already begun" } });
    expect(refusal("2026-12-11T10:00")?.status).toBe(409); // Friday
    expect(refusal("2026-12-13T09:10")?.status).toBe(409);
  });

  it("needs a name (400)", () => {
    const parsed = parseBook({ slot: "2026-12-13T09:00", name: "  " });
    expect(parsed.ok ? undefined : parsed.reply).toEqual({ status: 400, body: { error: "arguments.name: must not be empty" } });
  });
});

describe("cancel", () => {
  const live: Appointment = { id: "482913", slot: "2026-12-13T09:00", name: "דנה", phone: "+972501234567", reason: null, callSid: "CA1", createdAt: "" };

  it("cancels a live appointment from the number that booked it, or from an unknown number", () => {
    const cancelled = { kind: "cancel", id: "482913", reply: { status: 200, body: { result: { cancelled: true, appointment_id: "482913" } } } };
    expect(decideCancel("482913", live, { callSid: "CA2", from: "+972501234567" })).toEqual(cancelled);
    expect(decideCancel("482913", live, { callSid: "CA2" })).toEqual(cancelled);
    expect(decideCancel("482913", { ...live, phone: null }, { callSid: "CA2", from: "+972541111111" })).toEqual(cancelled);
  });

  it("answers 404 for an unknown appointment, and for someone else's", () => {
    const notFound = (id: string) => ({ kind: "reply", reply: { status: 404, body: { error: `no appointment ${id}` } } });
    expect(decideCancel("111111", undefined, { callSid: "CA2" })).toEqual(notFound("111111"));
    expect(decideCancel("482913", live, { callSid: "CA2", from: "+972541111111" })).toEqual(notFound("482913"));
  });

  it("ids are six digits, easy to say", () => {
    expect([0, 0.5, 0.999999].map(appointmentId)).toEqual(["100000", "550000", "999999"]);
  });
});
