// The course of a call, event by event: what Twilio is told when the stream ends or a dial ends,
// how a new stream opens, and when (and only once) the call counts as over for the record.
import { describe, expect, it } from "vitest";
import { advanceCourse, dialOutcome, whisperReason, type CallCourse, type CourseEvent, type CourseStep } from "./call-course.js";

const STAFF = "+97231234567";
const STATE = { turns: 3, history: [{ role: "user" as const, content: "אפשר לדבר עם מישהו?" }] };

/** An event whose time the run fills in (a second apart) unless it gives one. */
type Untimed = CourseEvent extends infer E ? (E extends CourseEvent ? Omit<E, "at"> & { at?: number } : never) : never;

/** Runs events from a new call; returns every step. */
function run(...events: Untimed[]): CourseStep[] {
  let course: CallCourse | undefined;
  return events.map((event, i) => {
    const step = advanceCourse(course, { at: 1000 * (i + 1), ...event } as CourseEvent);
    course = step.course;
    return step;
  });
}

const last = (steps: CourseStep[]) => steps[steps.length - 1]!;
const streamEnded = (callStatus = "in-progress", staffNumber: string | null = STAFF) => ({ type: "stream ended" as const, callStatus, staffNumber });
const dialEnded = (dialStatus: string, callStatus = "in-progress") => ({ type: "dial ended" as const, dialStatus, callStatus });

describe("when the stream ends (Twilio's <Connect action>)", () => {
  it("hangs up, never the fallback, when the caller hung up: a `stop` seen, or CallStatus=completed", () => {
    const stopped = run({ type: "stream started" }, { type: "caller stopped" }, streamEnded("completed"));
    expect(stopped[1]!.ended).toEqual({ endReason: "caller", endedAt: 2000 });
    expect(last(stopped)).toMatchObject({ direction: { kind: "hang up" } });
    expect(last(stopped).ended).toBeUndefined(); // told once, at the stop
    const completed = last(run({ type: "stream started" }, streamEnded("completed")));
    expect(completed).toMatchObject({ direction: { kind: "hang up" }, ended: { endReason: "caller" } });
    // Even with the core lost meanwhile: the caller left first, nobody is there to put through.
    const lostThenGone = last(run({ type: "stream started" }, { type: "core lost" }, streamEnded("completed")));
    expect(lostThenGone).toMatchObject({ direction: { kind: "hang up" }, ended: { endReason: "caller" } });
  });

  it("hangs up after the agent's or the silence's goodbye (core.end), and after the core's own limit", () => {
    for (const reason of ["agent", "idle"] as const) {
      const step = last(run({ type: "stream started" }, { type: "core ended", reason }, streamEnded()));
      expect(step).toMatchObject({ direction: { kind: "hang up" }, ended: { endReason: reason, endedAt: 3000 } });
    }
    const limit = last(run({ type: "stream started" }, { type: "core closed" }, streamEnded()));
    expect(limit).toMatchObject({ direction: { kind: "hang up" }, ended: { endReason: "limit" } });
    // The caller hanging up right after the goodbye is still the agent's ending.
    const raced = run({ type: "stream started" }, { type: "core ended", reason: "agent" }, { type: "caller stopped" });
    expect(last(raced).ended).toMatchObject({ endReason: "agent" });
  });

  it("sends the caller to the human fallback when nothing said the stream should end, or the core was lost for good", () => {
    for (const steps of [run({ type: "stream started" }, streamEnded()), run({ type: "stream started" }, { type: "core lost" }, streamEnded())]) {
      expect(last(steps)).toMatchObject({ direction: { kind: "fallback" }, ended: { endReason: "fallback" } });
    }
    // A ledger that never heard of the call (the edge failed before admission): the fallback too.
    expect(advanceCourse(undefined, { type: "stream ended", at: 5, callStatus: "in-progress", staffNumber: STAFF })).toMatchObject({ direction: { kind: "fallback" } });
  });

  it("keeps the first word on how the stream ends: core.end, then the link closing, stays core.end", () => {
    const step = last(run({ type: "stream started" }, { type: "core ended", reason: "idle" }, { type: "core closed" }, { type: "core lost" }, streamEnded()));
    expect(step).toMatchObject({ direction: { kind: "hang up" }, ended: { endReason: "idle" } });
  });

  it("dials the staff for a transfer, with the agent's reason kept for the whisper while it rings", () => {
    const steps = run({ type: "stream started" }, { type: "core ended", reason: "transfer", transferReason: "רוצה לקבוע תור דחוף" }, streamEnded());
    expect(last(steps)).toEqual(expect.objectContaining({ direction: { kind: "dial staff", to: STAFF } }));
    expect(last(steps).ended).toBeUndefined();
    expect(whisperReason(last(steps).course)).toBe("רוצה לקבוע תור דחוף");
  });

  it("sends the caller straight back to the agent (outcome failed) when a transfer has no STAFF_NUMBER, with a notice", () => {
    const steps = run({ type: "stream started" }, { type: "core ended", reason: "transfer" }, streamEnded("in-progress", null));
    expect(last(steps)).toMatchObject({ direction: { kind: "reconnect", outcome: "failed" }, notice: expect.stringContaining("STAFF_NUMBER") });
    expect(last(steps).ended).toBeUndefined();
  });

  it("answers a repeated request the way it answered the first, and tells the record desk once", () => {
    const steps = run({ type: "stream started" }, { type: "core ended", reason: "agent" }, streamEnded(), streamEnded());
    expect(steps[2]!.ended).toBeDefined();
    expect(steps[3]).toMatchObject({ direction: { kind: "hang up" } });
    expect(steps[3]!.ended).toBeUndefined();
    const dialling = run({ type: "stream started" }, { type: "core ended", reason: "transfer" }, streamEnded(), streamEnded());
    expect(dialling[3]).toMatchObject({ direction: { kind: "dial staff", to: STAFF } });
  });
});

describe("when the transfer's dial ends (Twilio's <Dial action>)", () => {
  const transferred = [
    { type: "stream started" as const },
    { type: "state" as const, state: STATE },
    { type: "core ended" as const, reason: "transfer" as const, transferReason: "תור דחוף" },
    streamEnded(),
  ];

  it("hangs up once the staff answered (completed or answered): the call is the staff's, recorded as a transfer", () => {
    for (const status of ["completed", "answered"]) {
      const step = last(run(...transferred, dialEnded(status)));
      expect(step).toMatchObject({ direction: { kind: "hang up" } });
      expect(step.ended).toEqual({ endReason: "transfer", endedAt: 5000, transfer: { to: STAFF, outcome: status, returnedToAgent: false } });
      // The words and the whisper go once the call is over.
      expect(step.course.conversation).toBeNull();
      expect(whisperReason(step.course)).toBeNull();
    }
  });

  it("brings the caller back to the agent on busy, no-answer, failed or canceled, and the next stream resumes with the state and the outcome", () => {
    for (const outcome of ["busy", "no-answer", "failed", "canceled"] as const) {
      const steps = run(...transferred, dialEnded(outcome), { type: "stream started" });
      expect(steps[4]).toMatchObject({ direction: { kind: "reconnect", outcome } });
      expect(steps[4]!.ended).toBeUndefined();
      expect(steps[5]!.opening).toEqual({ kind: "resume", state: STATE, transfer: { outcome } });
    }
  });

  it("reads an unknown DialCallStatus as a failed dial", () => {
    expect(dialOutcome("exploded")).toBe("failed");
    expect(dialOutcome(undefined)).toBe("failed");
    expect(last(run(...transferred, dialEnded("exploded")))).toMatchObject({ direction: { kind: "reconnect", outcome: "failed" } });
  });

  it("hangs up when the caller left while the staff rang", () => {
    const step = last(run(...transferred, dialEnded("canceled", "completed")));
    expect(step).toMatchObject({ direction: { kind: "hang up" }, ended: { endReason: "caller", transfer: { outcome: "canceled", returnedToAgent: false } } });
  });

  it("records the return in the record once the call, back with the agent, ends", () => {
    const steps = run(...transferred, dialEnded("no-answer"), { type: "stream started" }, { type: "core ended", reason: "agent" }, streamEnded());
    expect(last(steps).ended).toMatchObject({ endReason: "agent", transfer: { to: STAFF, outcome: "no-answer", returnedToAgent: true } });
  });

  it("greets a first stream, and a stream after a finished return, as new", () => {
    expect(run({ type: "stream started" })[0]!.opening).toEqual({ kind: "greet" });
    const steps = run(...transferred, dialEnded("busy"), { type: "stream started" }, { type: "stream started" });
    expect(last(steps).opening).toEqual({ kind: "greet" });
  });
});

describe("the conversation kept for a return", () => {
  it("keeps only the latest state, and none once the call is over", () => {
    const later = { turns: 4, history: [] };
    const steps = run({ type: "stream started" }, { type: "state", state: STATE }, { type: "state", state: later });
    expect(last(steps).course.conversation).toEqual({ state: later, at: 3000 });
    const over = run({ type: "stream started" }, { type: "caller stopped" }, { type: "state", state: STATE });
    expect(last(over).course.conversation).toBeNull();
  });

  it("stamps every event as the last activity (the ledger forgets the call an hour after it)", () => {
    expect(last(run({ type: "stream started" }, { type: "caller stopped", at: 77_000 })).course.lastActivityAt).toBe(77_000);
  });
});
