import { describe, expect, it } from "vitest";
import {
  decideDelivery,
  DEFAULT_DELIVERY_SETTINGS,
  deliverySettings,
  INITIAL_DELIVERY,
  type AttemptResult,
  type DeliveryAction,
  type DeliveryEvent,
  type DeliverySettings,
  type DeliveryState,
} from "./record-delivery.js";

const SETTINGS: DeliverySettings = { ...DEFAULT_DELIVERY_SETTINGS, configured: true };
const T0 = 1_700_000_000_000;

/** A desk as the policy sees it: its state, and every action it was told, in order. */
function desk(settings = SETTINGS, state: DeliveryState = INITIAL_DELIVERY) {
  const told: DeliveryAction[] = [];
  return {
    get state() {
      return state;
    },
    told,
    feed(event: DeliveryEvent): DeliveryAction[] {
      const decision = decideDelivery(state, event, settings);
      state = decision.state;
      told.push(...decision.actions);
      return decision.actions;
    },
  };
}

const note = (kind: "facts" | "state" | "part" | "ending", at: number, partReady?: boolean): DeliveryEvent => ({ type: "note", kind, at, partReady });
const alarm = (at: number): DeliveryEvent => ({ type: "alarm", at });
const attempted = (attempt: number, at: number, result: AttemptResult): DeliveryEvent => ({ type: "attempted", attempt, at, result });
const status = (code: number): AttemptResult => ({ kind: "status", status: code });
const types = (actions: DeliveryAction[]) => actions.map((action) => action.type);
const sends = (actions: DeliveryAction[]) => actions.filter((action) => action.type === "send").length;
const logs = (actions: DeliveryAction[]) => actions.filter((action): action is Extract<DeliveryAction, { type: "log" }> => action.type === "log");

/** Runs the call up to its first attempt being sent, by whichever path; returns the desk in "sending". */
function sendingDesk() {
  const d = desk();
  d.feed(note("facts", T0));
  d.feed(note("part", T0 + 1000));
  d.feed(note("ending", T0 + 2000, true));
  expect(types(d.feed(alarm(T0 + 2000)))).toEqual(["assemble", "setAlarm", "send"]);
  return d;
}

describe("the record's delivery: when it is sent", () => {
  it("keeps every note while the call goes on, and arms one alarm for a call that never ends", () => {
    const d = desk();
    expect(d.feed(note("facts", T0))).toEqual([{ type: "keep", kind: "facts" }, { type: "setAlarm", at: T0 + SETTINGS.abandonAfterMs }]);
    expect(d.feed(note("state", T0 + 5000))).toEqual([{ type: "keep", kind: "state" }]);
    expect(d.state).toEqual({ phase: "open", abandonAt: T0 + SETTINGS.abandonAfterMs });
  });

  it("part before the end: sends at once (in the alarm, due now), built once", () => {
    const d = desk();
    d.feed(note("facts", T0));
    d.feed(note("part", T0 + 60_000));
    expect(d.feed(note("ending", T0 + 61_000, true))).toEqual([{ type: "keep", kind: "ending" }, { type: "setAlarm", at: T0 + 61_000 }]);
    const actions = d.feed(alarm(T0 + 61_000));
    expect(types(actions)).toEqual(["assemble", "setAlarm", "send"]);
    expect(d.state).toEqual({ phase: "sending", attempt: 1 });
  });

  it("end before part: waits RECORD_WAIT_MS for it, and the part arriving sends at once", () => {
    const d = desk();
    d.feed(note("facts", T0));
    expect(d.feed(note("ending", T0 + 60_000, false))).toEqual([{ type: "keep", kind: "ending" }, { type: "setAlarm", at: T0 + 60_000 + SETTINGS.waitMs }]);
    expect(d.state).toEqual({ phase: "waiting", until: T0 + 60_000 + SETTINGS.waitMs });
    // A last state while waiting still counts: the record is not built yet.
    expect(d.feed(note("state", T0 + 61_000))).toEqual([{ type: "keep", kind: "state" }]);
    expect(d.feed(note("part", T0 + 63_000))).toEqual([{ type: "keep", kind: "part" }, { type: "setAlarm", at: T0 + 63_000 }]);
    expect(types(d.feed(alarm(T0 + 63_000)))).toEqual(["assemble", "setAlarm", "send"]);
  });

  it("part never comes: at the end of the wait the record goes without it, with one line saying so", () => {
    const d = desk();
    d.feed(note("facts", T0));
    d.feed(note("ending", T0 + 60_000, false));
    const actions = d.feed(alarm(T0 + 60_000 + SETTINGS.waitMs));
    expect(types(actions)).toEqual(["log", "assemble", "setAlarm", "send"]);
    expect(logs(actions)[0]).toMatchObject({ severity: "INFO", message: "call record: no part from the core in time; sent without it" });
  });

  it("a part that came in the first stream (before a transfer) does not end the wait: the desk is told partReady false", () => {
    const d = desk();
    d.feed(note("facts", T0));
    d.feed(note("part", T0 + 30_000));
    d.feed(note("facts", T0 + 60_000)); // back from the transfer: a new stream
    d.feed(note("ending", T0 + 90_000, false));
    expect(d.state.phase).toBe("waiting");
    // The first core's part, late, holds less than the call's last state: it does not end the wait either.
    expect(d.feed(note("part", T0 + 91_000, false))).toEqual([{ type: "keep", kind: "part" }]);
    expect(d.state.phase).toBe("waiting");
    // The second core's part ends the wait; the record is built after it, so it replaces the first.
    d.feed(note("part", T0 + 95_000));
    expect(d.state).toEqual({ phase: "queued", attempt: 1, at: T0 + 95_000 });
    expect(d.feed(note("part", T0 + 95_001))).toEqual([{ type: "keep", kind: "part" }]);
  });

  it("a part after the record was built is dropped with one line, also once delivered; it is never sent again", () => {
    const d = sendingDesk();
    const during = d.feed(note("part", T0 + 2500));
    expect(types(during)).toEqual(["log"]);
    d.feed(attempted(1, T0 + 3000, status(204)));
    expect(d.state).toEqual({ phase: "done", outcome: "delivered" });
    const after = d.feed(note("part", T0 + 10_000));
    expect(after).toEqual([{ type: "log", severity: "INFO", message: "call record: the core's part came after the record was built; dropped", fields: { phase: "done", outcome: "delivered" } }]);
    expect(d.feed(note("ending", T0 + 11_000, true))).toEqual([]);
    expect(d.feed(note("state", T0 + 11_000))).toEqual([]);
    expect(sends(d.told)).toBe(1);
  });

  it("a call that never ends is sent as it stands once abandoned (and an early alarm leaves it open)", () => {
    const d = desk();
    d.feed(note("facts", T0));
    expect(d.feed(alarm(T0 + 1000))).toEqual([{ type: "setAlarm", at: T0 + SETTINGS.abandonAfterMs }]);
    expect(d.state.phase).toBe("open");
    const actions = d.feed(alarm(T0 + SETTINGS.abandonAfterMs));
    expect(types(actions)).toEqual(["log", "endUnseen", "assemble", "setAlarm", "send"]);
    expect(actions[1]).toEqual({ type: "endUnseen", endedAt: T0 + SETTINGS.abandonAfterMs });
    expect(logs(actions)[0]!.severity).toBe("WARNING");
  });

  it("without CALL_RECORD_URL nothing is sent: one INFO line at the end, the notes dropped, a tombstone kept", () => {
    const d = desk({ ...SETTINGS, configured: false });
    d.feed(note("facts", T0));
    d.feed(note("part", T0 + 1000));
    const actions = d.feed(note("ending", T0 + 2000, true));
    expect(actions).toEqual([
      { type: "log", severity: "INFO", message: "call record not sent: CALL_RECORD_URL is not set" },
      { type: "dropNotes" },
      { type: "setAlarm", at: T0 + 2000 + SETTINGS.tombstoneMs },
    ]);
    expect(d.state).toEqual({ phase: "done", outcome: "not sent" });
    expect(d.feed(alarm(T0 + 2000 + SETTINGS.tombstoneMs))).toEqual([{ type: "forget" }]);
    expect(sends(d.told)).toBe(0);
  });
});

describe("the record's delivery: attempts", () => {
  it("a 2xx delivers: one INFO line, the notes dropped, the tombstone forgotten at its alarm", () => {
    const d = sendingDesk();
    const actions = d.feed(attempted(1, T0 + 3000, status(200)));
    expect(actions).toEqual([
      { type: "log", severity: "INFO", message: "call record delivered", fields: { attempt: 1, status: 200 } },
      { type: "dropNotes" },
      { type: "setAlarm", at: T0 + 3000 + SETTINGS.tombstoneMs },
    ]);
    expect(d.feed(alarm(T0 + 3000 + SETTINGS.tombstoneMs))).toEqual([{ type: "forget" }]);
  });

  it("network errors, 5xx and 429 are retried after 5 s, 30 s, 2 min, 10 min, 1 h, the same body each time; then one ERROR line", () => {
    const d = sendingDesk();
    const failures: AttemptResult[] = [status(500), { kind: "network", error: "TypeError: connection refused" }, status(429), status(503), status(502), status(500)];
    let at = T0 + 3000;
    const waits: number[] = [];
    failures.forEach((failure, index) => {
      const attempt = index + 1;
      const actions = d.feed(attempted(attempt, at, failure));
      if (attempt <= 5) {
        const alarmAt = actions.find((action): action is Extract<DeliveryAction, { type: "setAlarm" }> => action.type === "setAlarm")!.at;
        waits.push(alarmAt - at);
        expect(logs(actions)).toEqual([expect.objectContaining({ severity: "WARNING", message: "call record delivery failed; will retry" })]);
        at = alarmAt;
        // The retry resends what was built: no second assembly.
        expect(types(d.feed(alarm(at)))).toEqual(["setAlarm", "send"]);
        expect(d.state).toEqual({ phase: "sending", attempt: attempt + 1 });
      } else {
        expect(logs(actions)).toEqual([{ type: "log", severity: "ERROR", message: "call record undelivered; gave up", fields: { attempts: 6, status: 500 } }]);
        expect(d.state).toEqual({ phase: "done", outcome: "gave up" });
      }
    });
    expect(waits).toEqual([5_000, 30_000, 120_000, 600_000, 3_600_000]);
    expect(sends(d.told)).toBe(6);
    expect(d.told.filter((action) => action.type === "assemble")).toHaveLength(1);
    expect(logs(d.told).filter((line) => line.severity === "ERROR")).toHaveLength(1);
  });

  it.each([400, 401, 403, 404, 410, 422, 301])("a %i is final: gives up at once with one ERROR line", (code) => {
    const d = sendingDesk();
    const actions = d.feed(attempted(1, T0 + 3000, status(code)));
    expect(logs(actions)).toEqual([{ type: "log", severity: "ERROR", message: "call record refused by the receiver; not sent again", fields: { attempt: 1, status: code } }]);
    expect(d.state).toEqual({ phase: "done", outcome: "gave up" });
    expect(types(actions)).toContain("dropNotes");
  });

  it("a record that could not be built is given up with its reason", () => {
    const d = sendingDesk();
    const actions = d.feed(attempted(1, T0 + 3000, { kind: "unsendable", reason: "CALL_RECORD_SECRET is not set" }));
    expect(logs(actions)).toEqual([expect.objectContaining({ severity: "ERROR", fields: { reason: "CALL_RECORD_SECRET is not set" } })]);
    expect(d.state).toEqual({ phase: "done", outcome: "gave up" });
  });

  it("an attempt that never reports back (the object reset mid-send) counts as failed at the watchdog; its late report is ignored", () => {
    const d = sendingDesk();
    const actions = d.feed(alarm(T0 + 2000 + SETTINGS.attemptWatchdogMs));
    expect(logs(actions)[0]).toMatchObject({ severity: "WARNING", fields: { attempt: 1, error: "attempt lost" } });
    expect(d.state).toMatchObject({ phase: "queued", attempt: 2 });
    expect(d.feed(attempted(1, T0 + 70_000, status(204)))).toEqual([]);
    expect(d.state).toMatchObject({ phase: "queued", attempt: 2 });
  });
});

describe("delivery settings", () => {
  it("reads CALL_RECORD_URL and RECORD_WAIT_MS; an unusable wait keeps 20 s and says why", () => {
    expect(deliverySettings({}).settings).toMatchObject({ configured: false, waitMs: 20_000 });
    expect(deliverySettings({ CALL_RECORD_URL: "", RECORD_WAIT_MS: "" }).settings.configured).toBe(false);
    expect(deliverySettings({ CALL_RECORD_URL: "https://clinic.example/records", RECORD_WAIT_MS: "5000" }).settings).toMatchObject({ configured: true, waitMs: 5000 });
    const bad = deliverySettings({ RECORD_WAIT_MS: "soon" });
    expect(bad.settings.waitMs).toBe(20_000);
    expect(bad.problem).toContain("RECORD_WAIT_MS");
  });
});
