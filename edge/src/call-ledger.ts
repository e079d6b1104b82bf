// The call's ledger: one Durable Object per CallSid (idFromName), so every isolate that serves a
// stream of the call, and every isolate Twilio's action requests land on, talks to the same
// single-threaded object with strongly consistent storage. It records which stream holds the call
// (stream-claim.ts decides) and the call's course: how its stream is to end, a transfer, the latest
// conversation (call-course.ts decides). It forgets the call COURSE_TTL_MS after the last activity.
import { DurableObject } from "cloudflare:workers";
import { COURSE_TTL_MS, advanceCourse, whisperReason, type CallCourse, type CourseEvent, type CourseStep, type StreamOpening } from "./call-course.js";
import { claimStream, releases, type ClaimVerdict, type StreamHold } from "./stream-claim.js";

const HOLD_KEY = "stream";
const COURSE_KEY = "course";

/** What a step tells its asker; the course itself stays in the ledger. */
export type CourseAnswer = Omit<CourseStep, "course">;

export type AdmitVerdict = { ok: true; opening: StreamOpening } | { ok: false; holder: string };

export class CallLedger extends DurableObject {
  /** Claims (or renews) the call for `holder`; refused while another holder's lease runs. */
  async claim(holder: string): Promise<ClaimVerdict> {
    const verdict = claimStream(await this.ctx.storage.get<StreamHold>(HOLD_KEY), holder, Date.now());
    if (verdict.ok) await Promise.all([this.ctx.storage.put(HOLD_KEY, verdict.hold), this.keepUntilIdle()]);
    return verdict;
  }

  /** A new stream of the call: claims it for `holder` and says how its core link opens (greeting, or a return from a transfer). One round trip. */
  async admit(holder: string): Promise<AdmitVerdict> {
    const verdict = await this.claim(holder);
    if (!verdict.ok) return verdict;
    const { opening } = await this.advance({ type: "stream started", at: Date.now() });
    return { ok: true, opening: opening ?? { kind: "greet" } };
  }

  /** The stream ended: the call is free for another (e.g. the caller sent back to the agent). */
  async release(holder: string): Promise<void> {
    if (releases(await this.ctx.storage.get<StreamHold>(HOLD_KEY), holder)) await this.ctx.storage.delete(HOLD_KEY);
  }

  /** Records an event of the call's course and answers what follows from it. */
  async advance(event: CourseEvent): Promise<CourseAnswer> {
    const { course, ...answer } = advanceCourse(await this.ctx.storage.get<CallCourse>(COURSE_KEY), event);
    await Promise.all([this.ctx.storage.put(COURSE_KEY, course), this.keepUntilIdle()]);
    return answer;
  }

  /** The agent's reason for the staff member's whisper while the transfer rings; null otherwise. */
  async whisper(): Promise<string | null> {
    return whisperReason(await this.ctx.storage.get<CallCourse>(COURSE_KEY));
  }

  /** Nothing heard of the call for COURSE_TTL_MS: everything about it goes. */
  override async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }

  private keepUntilIdle(): Promise<void> {
    return this.ctx.storage.setAlarm(Date.now() + COURSE_TTL_MS);
  }
}
