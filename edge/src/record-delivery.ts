// When a call's record is sent, retried, given up and forgotten. Pure: the record desk
// (record-desk.ts) feeds it what happened, with the time read once by the desk, and does what it
// answers; the desk's one alarm carries every wait.
//
// A call's life at the desk: open (the call goes on; notes are kept) -> ended, waiting for the
// core's part (a core makes its summary after the caller is gone), at most RECORD_WAIT_MS -> the
// record assembled once, then the same body sent until a 2xx (network errors, 5xx and 429 are
// retried with backoff; any other status is final) -> done: the notes deleted, a small tombstone kept
// for a while so that a late note is recognised and dropped instead of starting a second record.
import { positiveIntegerVar } from "./vars.js";

export interface DeliverySettings {
  /** Whether CALL_RECORD_URL is set: otherwise the record is never sent. */
  configured: boolean;
  /** How long an ended call waits for the core's part before its record goes without it. */
  waitMs: number;
  /** Wait before each retry; its length is the number of retries (one attempt, then one per entry). */
  retryDelaysMs: readonly number[];
  /** How long a started attempt may stay unanswered before it counts as lost (the object was reset mid-send). */
  attemptWatchdogMs: number;
  /** A call that never ends (its edge died with it) has its record sent as it stands after this long. */
  abandonAfterMs: number;
  /** How long the tombstone of a finished record stays. */
  tombstoneMs: number;
}

export const DEFAULT_RECORD_WAIT_MS = 20_000;

export const DEFAULT_DELIVERY_SETTINGS: Omit<DeliverySettings, "configured"> = {
  waitMs: DEFAULT_RECORD_WAIT_MS,
  retryDelaysMs: [5_000, 30_000, 120_000, 600_000, 3_600_000],
  attemptWatchdogMs: 60_000,
  // Longer than the longest call (the core's MAX_CALL_MS defaults to an hour) and a transfer's dial.
  abandonAfterMs: 4 * 3_600_000,
  tombstoneMs: 24 * 3_600_000,
};

/** The settings from the worker's vars; an unusable RECORD_WAIT_MS keeps the default and says why. */
export function deliverySettings(vars: { CALL_RECORD_URL?: string; RECORD_WAIT_MS?: string }): { settings: DeliverySettings; problem?: string } {
  const wait = positiveIntegerVar("RECORD_WAIT_MS", vars.RECORD_WAIT_MS, DEFAULT_RECORD_WAIT_MS);
  return { settings: { ...DEFAULT_DELIVERY_SETTINGS, configured: !!vars.CALL_RECORD_URL, waitMs: wait.value }, problem: wait.problem };
}

export type DeliveryState =
  /** The call goes on. `abandonAt`: when the desk stops waiting for its end (null before the first note). */
  | { phase: "open"; abandonAt: number | null }
  /** The call is over; the core's part may still come. */
  | { phase: "waiting"; until: number }
  /** Attempt `attempt` is due at the alarm at `at` (every send runs in the alarm, which the runtime retries). */
  | { phase: "queued"; attempt: number; at: number }
  | { phase: "sending"; attempt: number }
  | { phase: "done"; outcome: DeliveryOutcome };

export type DeliveryOutcome = "delivered" | "gave up" | "not sent";

export const INITIAL_DELIVERY: DeliveryState = { phase: "open", abandonAt: null };

/** How one attempt went: the receiver's status, or no answer at all (network, timeout, attempt lost), or nothing could be built to send. */
export type AttemptResult = { kind: "status"; status: number } | { kind: "network"; error: string } | { kind: "unsendable"; reason: string };

export type NoteKind = "facts" | "state" | "part" | "ending";

export type DeliveryEvent =
  /**
   * A note from the edge or the core. `partReady` (endings and parts): the core part kept speaks for the
   * call as it ended (it came in since the call's last stream began, and holds all the edge saw).
   */
  | { type: "note"; kind: NoteKind; at: number; partReady?: boolean }
  | { type: "alarm"; at: number }
  | { type: "attempted"; attempt: number; at: number; result: AttemptResult };

export type DeliveryAction =
  /** Keep the note (the latest of its kind wins); a note not kept is dropped. */
  | { type: "keep"; kind: NoteKind }
  /** Keep this ending: the call never said it ended. */
  | { type: "endUnseen"; endedAt: number }
  /** Build the record from the notes and keep its body: every attempt sends the same, and nothing changes it after. */
  | { type: "assemble" }
  | { type: "send"; attempt: number }
  /** The one alarm, at this moment (replacing any other). */
  | { type: "setAlarm"; at: number }
  /** Delete the notes and the record; only the tombstone (this policy's state) stays. */
  | { type: "dropNotes" }
  /** Delete everything, the tombstone too. */
  | { type: "forget" }
  | { type: "log"; severity: "INFO" | "WARNING" | "ERROR"; message: string; fields?: Record<string, unknown> };

export interface Decision {
  state: DeliveryState;
  actions: DeliveryAction[];
}

/** What the desk does with `event` in `state`. */
export function decideDelivery(state: DeliveryState, event: DeliveryEvent, settings: DeliverySettings): Decision {
  switch (event.type) {
    case "note":
      return onNote(state, event, settings);
    case "alarm":
      return onAlarm(state, event.at, settings);
    case "attempted":
      return onAttempted(state, event, settings);
  }
}

/** Whether the record is still to be built from the notes (then every note counts). */
function assembling(state: DeliveryState): boolean {
  return state.phase === "open" || state.phase === "waiting" || (state.phase === "queued" && state.attempt === 1);
}

function onNote(state: DeliveryState, event: Extract<DeliveryEvent, { type: "note" }>, settings: DeliverySettings): Decision {
  const { kind, at } = event;
  if (!assembling(state)) {
    // The record is built (or finished): nothing more goes into it.
    const fields = { phase: state.phase, ...(state.phase === "done" ? { outcome: state.outcome } : {}) };
    return { state, actions: kind === "part" ? [{ type: "log", severity: "INFO", message: "call record: the core's part came after the record was built; dropped", fields }] : [] };
  }
  const keep: DeliveryAction = { type: "keep", kind };
  if (state.phase === "open") {
    const abandonAt = state.abandonAt ?? at + settings.abandonAfterMs;
    const armAbandon: DeliveryAction[] = state.abandonAt === null ? [{ type: "setAlarm", at: abandonAt }] : [];
    if (kind !== "ending") return { state: { phase: "open", abandonAt }, actions: [keep, ...armAbandon] };
    if (!settings.configured) return finish("not sent", at, settings, [{ type: "log", severity: "INFO", message: "call record not sent: CALL_RECORD_URL is not set" }]);
    if (event.partReady) return queueFirst(at, [keep]);
    const until = at + settings.waitMs;
    return { state: { phase: "waiting", until }, actions: [keep, { type: "setAlarm", at: until }] };
  }
  if (state.phase === "waiting" && kind === "part") return event.partReady === false ? { state, actions: [keep] } : queueFirst(at, [keep]);
  // A repeated ending, a last state: the latest wins, and the wait (or the queued first attempt) stands.
  return { state, actions: [keep] };
}

function onAlarm(state: DeliveryState, at: number, settings: DeliverySettings): Decision {
  switch (state.phase) {
    case "open":
      if (state.abandonAt === null) return { state, actions: [] };
      // An alarm before its time (never in production; a test may run it early) leaves the call open.
      if (at < state.abandonAt) return { state, actions: [{ type: "setAlarm", at: state.abandonAt }] };
      if (!settings.configured) return finish("not sent", at, settings, []);
      return send(1, at, settings, [
        { type: "log", severity: "WARNING", message: "call record: the call never ended; its record is sent as it stands" },
        { type: "endUnseen", endedAt: at },
      ]);
    case "waiting":
      return send(1, at, settings, [{ type: "log", severity: "INFO", message: "call record: no part from the core in time; sent without it", fields: { wait_ms: settings.waitMs } }]);
    case "queued":
      return send(state.attempt, at, settings, []);
    case "sending":
      // The attempt never reported back (the object was reset mid-send): it counts as failed.
      return onAttempted(state, { type: "attempted", attempt: state.attempt, at, result: { kind: "network", error: "attempt lost" } }, settings);
    case "done":
      return { state, actions: [{ type: "forget" }] };
  }
}

function onAttempted(state: DeliveryState, event: Extract<DeliveryEvent, { type: "attempted" }>, settings: DeliverySettings): Decision {
  // Only the attempt in flight counts: a stale report (after the watchdog moved on) is dropped.
  if (state.phase !== "sending" || state.attempt !== event.attempt) return { state, actions: [] };
  const { result, at, attempt } = event;
  if (result.kind === "unsendable")
    return finish("gave up", at, settings, [{ type: "log", severity: "ERROR", message: "call record could not be built; not sent", fields: { reason: result.reason } }]);
  if (result.kind === "status" && result.status >= 200 && result.status < 300)
    return finish("delivered", at, settings, [{ type: "log", severity: "INFO", message: "call record delivered", fields: { attempt, status: result.status } }]);
  const failure = result.kind === "status" ? { status: result.status } : { error: result.error };
  if (!retryable(result))
    return finish("gave up", at, settings, [{ type: "log", severity: "ERROR", message: "call record refused by the receiver; not sent again", fields: { attempt, ...failure } }]);
  if (attempt > settings.retryDelaysMs.length)
    return finish("gave up", at, settings, [{ type: "log", severity: "ERROR", message: "call record undelivered; gave up", fields: { attempts: attempt, ...failure } }]);
  const next = at + (settings.retryDelaysMs[attempt - 1] ?? 0);
  return {
    state: { phase: "queued", attempt: attempt + 1, at: next },
    actions: [
      { type: "log", severity: "WARNING", message: "call record delivery failed; will retry", fields: { attempt, retry_in_ms: next - at, ...failure } },
      { type: "setAlarm", at: next },
    ],
  };
}

/** Network errors, 5xx and 429 may pass on a later try; any other answer will not. */
export function retryable(result: AttemptResult): boolean {
  if (result.kind === "network") return true;
  if (result.kind === "unsendable") return false;
  return result.status >= 500 || result.status === 429;
}

/** The first attempt, due at once: it runs in the alarm, so the note that made it due returns without waiting on the receiver. */
function queueFirst(at: number, before: DeliveryAction[]): Decision {
  return { state: { phase: "queued", attempt: 1, at }, actions: [...before, { type: "setAlarm", at }] };
}

function send(attempt: number, at: number, settings: DeliverySettings, before: DeliveryAction[]): Decision {
  const build: DeliveryAction[] = attempt === 1 ? [{ type: "assemble" }] : [];
  // The watchdog before the send: if the send never reports back, the alarm takes it as failed.
  return { state: { phase: "sending", attempt }, actions: [...before, ...build, { type: "setAlarm", at: at + settings.attemptWatchdogMs }, { type: "send", attempt }] };
}

function finish(outcome: DeliveryOutcome, at: number, settings: DeliverySettings, logs: DeliveryAction[]): Decision {
  return { state: { phase: "done", outcome }, actions: [...logs, { type: "dropNotes" }, { type: "setAlarm", at: at + settings.tombstoneMs }] };
}
