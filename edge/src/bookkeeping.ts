// What one stream's relay writes down about its call, off the audio path: in the call's ledger
// (call-ledger.ts: who holds the call, its course) and at its record desk (record-notes.ts). Course
// events go in the order they happened, one after another, so the ledger has heard how the stream
// should end before the relay closes it; conversation states go latest-only, never awaited by the
// relay. A failure is one log line, never the call's end.
import type { ConversationState } from "@voice/protocol/core-link";
import type { CourseEvent } from "./call-course.js";
import type { AdmitVerdict, CallLedger, CourseAnswer } from "./call-ledger.js";
import type { Env } from "./env.js";
import { errorText, logEvent } from "./log.js";
import type { CallRecordDesk } from "./record-desk.js";
import type { CallFacts } from "./record-notes.js";

/** Longest the relay waits for the ledger to take the stream's ending before it closes the caller anyway. */
export const COURSE_WRITE_WAIT_MS = 5_000;

/** Writes the newest value offered, one write at a time; values offered meanwhile collapse into the latest. */
export class LatestOnly<T> {
  private next: { value: T } | undefined;
  private writing = false;

  constructor(private readonly write: (value: T) => Promise<unknown>) {}

  offer(value: T): void {
    this.next = { value };
    if (!this.writing) void this.drain();
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.next) {
      const { value } = this.next;
      this.next = undefined;
      await this.write(value);
    }
    this.writing = false;
  }
}

export class CallBookkeeping {
  private readonly ledger: DurableObjectStub<CallLedger>;
  private readonly desk: DurableObjectStub<CallRecordDesk>;
  /** Course events, chained in order. */
  private writes: Promise<unknown> = Promise.resolve();
  private readonly states: LatestOnly<ConversationState>;

  constructor(
    env: Env,
    private readonly callSid: string,
  ) {
    this.ledger = env.CALLS.get(env.CALLS.idFromName(callSid));
    this.desk = env.RECORDS.get(env.RECORDS.idFromName(callSid));
    this.states = new LatestOnly((state) =>
      Promise.all([
        this.ledger.advance({ type: "state", at: Date.now(), state }).catch((error: unknown) => this.failed("ledger: state not kept", error)),
        this.desk.noteState(state).catch((error: unknown) => this.failed("record desk: state not noted", error)),
      ]),
    );
  }

  /** Claims the call for this stream and learns how its core link opens; the desk hears of the stream once admitted. Throws when the ledger cannot answer. */
  async admit(holder: string, facts: CallFacts): Promise<AdmitVerdict> {
    const verdict = await this.ledger.admit(holder);
    if (verdict.ok) this.desk.noteStart(facts).catch((error: unknown) => this.failed("record desk: start not noted", error));
    return verdict;
  }

  /** Renews this stream's hold on the call. Never throws. */
  renew(holder: string): void {
    this.ledger.claim(holder).catch(() => {});
  }

  /** Lets the call go (another stream may then hold it), after the course events before it. Never throws. */
  release(holder: string): void {
    this.writes = this.writes.then(() => this.ledger.release(holder)).catch(() => {});
  }

  noteState(state: ConversationState): void {
    this.states.offer(state);
  }

  /** Records a course event after the ones before it; the desk hears when the call became over. Resolves undefined on failure. */
  record(event: CourseEvent): Promise<CourseAnswer | undefined> {
    const written = this.writes.then(() => this.ledger.advance(event));
    this.writes = written.catch(() => {});
    return written.then(
      (answer) => {
        if (answer.ended) this.desk.noteEnd(answer.ended).catch((error: unknown) => this.failed("record desk: end not noted", error));
        return answer;
      },
      (error: unknown) => {
        this.failed(`ledger: "${event.type}" not recorded`, error);
        return undefined;
      },
    );
  }

  /** Resolves once the course events so far are written, or after COURSE_WRITE_WAIT_MS. Never rejects. */
  settled(): Promise<void> {
    let timer = 0;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, COURSE_WRITE_WAIT_MS)));
    return Promise.race([this.writes.then(() => {}), bound]).finally(() => clearTimeout(timer));
  }

  private failed(what: string, error: unknown): void {
    logEvent("ERROR", what, { call_id: this.callSid, error: errorText(error) });
  }
}
