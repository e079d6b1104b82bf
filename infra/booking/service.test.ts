// The reference booking service over real HTTP on loopback, with SQLite on disk: what a business (and
// the core) sees of it. The clock is fixed at Thursday 2026-12-10, 10:00 in Israel.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { bookingClient, type BookedAppointment } from "./client.js";
import { startBookingService, type BookingLogLine, type BookingService } from "./service.js";
import { signToolRequest } from "./sign.js";

const SECRET = "booking-test-signing-secret";
const NOW = Date.parse("2026-12-10T08:00:00Z");
const now = () => NOW;

let dir: string;
let service: BookingService;
let lines: BookingLogLine[];

async function start(): Promise<BookingService> {
  service = await startBookingService({ dbPath: path.join(dir, "booking.db"), signingSecret: SECRET, now, log: (line) => lines.push(line) });
  return service;
}

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "booking-"));
  lines = [];
  await start();
});

afterEach(async () => {
  await service.close();
  rmSync(dir, { recursive: true, force: true });
});

const client = (call: { from?: string } = { from: "+972501234567" }) => bookingClient(service.url, { secret: SECRET, now, call });
const resultOf = (response: { body: unknown }) => (response.body as { result: Record<string, unknown> }).result;
const errorOf = (response: { body: unknown }) => (response.body as { error: string }).error;

/** A signed book request sent with whatever headers a test wants to break. */
async function rawBook(change: (headers: Record<string, string>) => Record<string, string | undefined>) {
  const { headers, body } = signToolRequest(SECRET, { tool: "book", arguments: { slot: "2026-12-13T09:00", name: "דנה" }, call: { callSid: "CA1" }, toolCallId: "call_1" }, NOW);
  const changed = Object.fromEntries(Object.entries(change(headers)).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const response = await fetch(`${service.url}/tools/book`, { method: "POST", headers: changed, body });
  return { status: response.status, body: (await response.json()) as unknown };
}

describe("find_slots", () => {
  it("without a date offers the first three slots of the next working day (Thursday -> Sunday)", async () => {
    const response = await client().findSlots();
    expect(response.status).toBe(200);
    expect(resultOf(response)).toEqual({ date: "2026-12-13", slots: ["2026-12-13T09:00", "2026-12-13T09:30", "2026-12-13T10:00"] });
  });

  it("for today offers only slots that have not begun, and none on a Friday", async () => {
    expect(resultOf(await client().findSlots({ date: "2026-12-10" })).slots).toEqual(["2026-12-10T10:30", "2026-12-10T11:00", "2026-12-10T11:30"]);
    expect(resultOf(await client().findSlots({ date: "2026-12-11" }))).toEqual({ date: "2026-12-11", slots: [] });
  });

  it("refuses a date that is not one (400)", async () => {
    const response = await client().findSlots({ date: "13/12/2026" });
    expect(response.status).toBe(400);
    expect(errorOf(response)).toBe("arguments.date: must be a date YYYY-MM-DD");
  });
});

describe("book and cancel", () => {
  it("a booked slot shows in GET /appointments with the caller's number and call, and is no longer offered", async () => {
    const caller = client();
    const booked = await caller.book({ slot: "2026-12-13T09:00", name: "דנה כהן", reason: "בדיקה" });
    expect(booked.status).toBe(200);
    const appointment = resultOf(booked).appointment as BookedAppointment;
    expect(appointment).toEqual({ id: expect.stringMatching(/^[1-9]\d{5}$/), slot: "2026-12-13T09:00", name: "דנה כהן", phone: "+972501234567", reason: "בדיקה" });

    const appointments = await caller.appointments();
    expect(appointments).toEqual([{ ...appointment, callSid: caller.call.callSid, createdAt: "2026-12-10T08:00:00.000Z" }]);
    expect(resultOf(await caller.findSlots()).slots).toEqual(["2026-12-13T09:30", "2026-12-13T10:00", "2026-12-13T10:30"]);
  });

  it("a taken slot, a Friday and a time between slots are 409, and nothing more is booked", async () => {
    expect((await client().book({ slot: "2026-12-13T09:00", name: "דנה" })).status).toBe(200);
    const taken = await client().book({ slot: "2026-12-13T09:00", name: "יוסי" });
    expect(taken.status).toBe(409);
    expect(errorOf(taken)).toBe("2026-12-13T09:00 is already taken");
    expect((await client().book({ slot: "2026-12-11T09:00", name: "יוסי" })).status).toBe(409);
    expect((await client().book({ slot: "2026-12-13T09:15", name: "יוסי" })).status).toBe(409);
    expect((await client().appointments()).map((a) => a.name)).toEqual(["דנה"]);
  });

  it("cancel frees the slot; an unknown or already cancelled appointment is 404", async () => {
    const caller = client();
    const { id } = resultOf(await caller.book({ slot: "2026-12-13T09:00", name: "דנה" })).appointment as BookedAppointment;
    const cancelled = await caller.cancel({ appointment_id: id });
    expect(cancelled.status).toBe(200);
    expect(resultOf(cancelled)).toEqual({ cancelled: true, appointment_id: id });
    expect(await caller.appointments()).toEqual([]);
    expect(resultOf(await caller.findSlots()).slots).toContain("2026-12-13T09:00");

    const again = await caller.cancel({ appointment_id: id });
    expect(again.status).toBe(404);
    expect(errorOf(again)).toBe(`no appointment ${id}`);
    expect((await caller.cancel({ appointment_id: "000000" })).status).toBe(404);
    expect((await caller.book({ slot: "2026-12-13T09:00", name: "יוסי" })).status).toBe(200);
  });

  it("someone else's appointment cannot be cancelled: 404, and it stays booked", async () => {
    const { id } = resultOf(await client().book({ slot: "2026-12-13T09:00", name: "דנה" })).appointment as BookedAppointment;
    const stranger = await client({ from: "+972549999999" }).cancel({ appointment_id: id });
    expect(stranger.status).toBe(404);
    expect((await client().appointments()).map((a) => a.id)).toEqual([id]);
  });

  it("GET /appointments lists live bookings soonest first", async () => {
    await client().book({ slot: "2026-12-14T11:00", name: "ב" });
    await client({}).book({ slot: "2026-12-13T16:30", name: "א" });
    const response = await fetch(`${service.url}/appointments`);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const list = (await response.json()) as BookedAppointment[];
    expect(list.map((a) => [a.slot, a.name, a.phone])).toEqual([
      ["2026-12-13T16:30", "א", null],
      ["2026-12-14T11:00", "ב", "+972501234567"],
    ]);
    for (const a of list) expect(Object.keys(a).sort()).toEqual(["callSid", "createdAt", "id", "name", "phone", "reason", "slot"]);
  });
});

describe("idempotency", () => {
  it("the same key twice answers the first reply verbatim and books once", async () => {
    const caller = client();
    const first = await caller.book({ slot: "2026-12-13T09:00", name: "דנה" }, { toolCallId: "call_7" });
    const second = await caller.book({ slot: "2026-12-13T09:00", name: "דנה" }, { toolCallId: "call_7" });
    expect(second.status).toBe(200);
    expect(second.text).toBe(first.text);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(await caller.appointments()).toHaveLength(1);
    expect(lines.filter((line) => line.path === "/tools/book").map((line) => line.replayed ?? false)).toEqual([false, true]);
  });

  it("a refusal is replayed too: a retried 409 stays a 409 after the slot is freed", async () => {
    const holder = client();
    const { id } = resultOf(await holder.book({ slot: "2026-12-13T09:00", name: "דנה" })).appointment as BookedAppointment;
    const other = client();
    const refused = await other.book({ slot: "2026-12-13T09:00", name: "יוסי" }, { toolCallId: "call_9" });
    await holder.cancel({ appointment_id: id });
    const retried = await other.book({ slot: "2026-12-13T09:00", name: "יוסי" }, { toolCallId: "call_9" });
    expect([refused.status, retried.status]).toEqual([409, 409]);
    expect(await other.appointments()).toEqual([]);
  });

  it("the same key with other arguments is refused (422) and books nothing", async () => {
    const caller = client();
    await caller.book({ slot: "2026-12-13T09:00", name: "דנה" }, { toolCallId: "call_3" });
    const reused = await caller.book({ slot: "2026-12-13T10:00", name: "דנה" }, { toolCallId: "call_3" });
    expect(reused.status).toBe(422);
    expect((await caller.appointments()).map((a) => a.slot)).toEqual(["2026-12-13T09:00"]);
  });

  it("two simultaneous requests with one key make one booking, and both get its reply", async () => {
    const caller = client();
    const [a, b] = await Promise.all([0, 1].map(() => caller.book({ slot: "2026-12-13T09:00", name: "דנה" }, { toolCallId: "call_same" })));
    expect([a!.status, b!.status]).toEqual([200, 200]);
    expect(a!.text).toBe(b!.text);
    expect(await caller.appointments()).toHaveLength(1);
  });
});

describe("concurrency", () => {
  it("two callers booking the same slot at once: one 200, one 409, one booking", async () => {
    const responses = await Promise.all(["דנה", "יוסי"].map((name) => client().book({ slot: "2026-12-13T09:00", name })));
    expect(responses.map((r) => r.status).sort()).toEqual([200, 409]);
    const winner = responses.find((r) => r.status === 200)!;
    const list = await client().appointments();
    expect(list.map((a) => a.id)).toEqual([(resultOf(winner).appointment as BookedAppointment).id]);
  });
});

describe("refusals before anything is done", () => {
  it("a bad, missing, stale or future signature is 401 and books nothing", async () => {
    const cases = {
      bad: (h: Record<string, string>) => ({ ...h, "x-voice-signature": `v1=${"0".repeat(64)}` }),
      missing: (h: Record<string, string>) => ({ ...h, "x-voice-signature": undefined }),
      stale: (h: Record<string, string>) => ({ ...h, "x-voice-timestamp": String(NOW - 300_001) }),
      future: (h: Record<string, string>) => ({ ...h, "x-voice-timestamp": String(NOW + 300_001) }),
    };
    for (const [name, change] of Object.entries(cases)) {
      const response = await rawBook(change);
      expect([name, response.status]).toEqual([name, 401]);
      expect(typeof errorOf(response)).toBe("string");
    }
    expect(await client().appointments()).toEqual([]);
    // The refused key was not stored: the real request with it still books.
    expect((await rawBook((h) => h)).status).toBe(200);
  });

  it("a body over 64 KB is 413 and never read", async () => {
    const { headers } = signToolRequest(SECRET, { tool: "book", arguments: {}, call: { callSid: "CA1" }, toolCallId: "c" }, NOW);
    const body = JSON.stringify({ padding: "x".repeat(100 * 1024) });
    const response = await fetch(`${service.url}/tools/book`, { method: "POST", headers, body });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toBe("body larger than 65536 bytes");
    expect(await client().appointments()).toEqual([]);
  });

  it("a streamed body (no content-length) is cut off at 64 KB the same way", async () => {
    const { headers } = signToolRequest(SECRET, { tool: "book", arguments: {}, call: { callSid: "CA1" }, toolCallId: "c" }, NOW);
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const response = await fetch(`${service.url}/tools/book`, { method: "POST", headers, body, duplex: "half" } as RequestInit);
    expect(response.status).toBe(413);
  });

  it("an unknown tool is 404 and a GET of a tool is 405", async () => {
    expect((await fetch(`${service.url}/tools/drop_tables`, { method: "POST", body: "{}" })).status).toBe(404);
    expect((await fetch(`${service.url}/tools/book`)).status).toBe(405);
  });
});

describe("persistence", () => {
  it("after a restart on the same file the bookings, and the answers under their keys, are still there", async () => {
    const caller = client();
    const first = await caller.book({ slot: "2026-12-13T09:00", name: "דנה" }, { toolCallId: "call_1" });
    await service.close();
    await start();
    const again = bookingClient(service.url, { secret: SECRET, now, call: caller.call });
    expect((await again.appointments()).map((a) => [a.slot, a.name])).toEqual([["2026-12-13T09:00", "דנה"]]);
    const replayed = await again.book({ slot: "2026-12-13T09:00", name: "דנה" }, { toolCallId: "call_1" });
    expect(replayed.text).toBe(first.text);
    expect((await again.book({ slot: "2026-12-13T09:00", name: "יוסי" })).status).toBe(409);
  });
});
