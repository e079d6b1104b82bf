// Twilio's call control after a media stream, as a state machine: events in (a stream ended, a TwiML
// document arrived, a dial ended, a request failed), one action out (fetch a TwiML URL, ring a
// number, open a stream, or end the call). It decides what the simulated Twilio does next and, at the
// end, who ended the call. The shell (call.ts, dial.ts) does the requests, the ringing and the
// streams; no clock, no socket here.
//
// Who ended the call (`EndedBy`), judged on what happened after the last stream the edge ended:
// - "caller": the caller's script ended and it hung up (Twilio then posts CallStatus=completed);
// - "transfer": a <Dial> with an action (the caller could have come back) was answered;
// - "fallback": a <Dial> without an action (no way back: the human fallback number), or a <Say>
//   then <Hangup/> (the fallback apology when there is no fallback number) — the edge spoke or
//   dialled for itself because nothing had said the call should end;
// - "agent": the edge ended the stream and the answer was a bare <Hangup/> (the agent's goodbye, an
//   idle caller, or a transfer nobody took that the edge ended);
// - "error": the call could not be followed (a failed request, TwiML the simulator cannot act on,
//   too many documents, a stream the edge ended with no <Connect action>).
import { dialReachedStaff } from "@voice/protocol/call-control";
import type { DialAnswer } from "./script.js";
import type { StreamTwiml, TwimlVerb } from "./twiml.js";

/** TwiML documents the simulator fetches after the webhook's, at most: a call loops no further. */
export const MAX_TWIML_HOPS = 5;

export type EndedBy = "caller" | "agent" | "transfer" | "fallback" | "error";

export type DialVerb = Extract<TwimlVerb, { verb: "Dial" }>;

export interface SaidByTwilio {
  text: string;
  language: string | null;
}

export interface DialRecord {
  to: string;
  /** The DialCallStatus the simulated Twilio reported. */
  status: string;
  /** The <Dial> had an action: a transfer the caller could come back from. */
  withAction: boolean;
}

export type ControlEvent =
  /** A media stream ended: the caller hung up (its script ended), or the edge closed it (`detail`: code and reason). */
  | { type: "streamEnded"; by: "caller" | "edge"; stream: StreamTwiml; detail: string }
  | { type: "twiml"; verbs: TwimlVerb[] }
  /** The <Dial> rang out: `fields` (DialCallSid, DialCallDuration) go with DialCallStatus to its action. */
  | { type: "dialEnded"; status: string; fields: Record<string, string> }
  | { type: "failed"; reason: string };

export type ControlAction =
  /** POST `url`, signed, with the call's parameters plus `fields`; its answer comes back as a `twiml` event. */
  | { type: "fetch"; url: string; fields: Record<string, string>; what: string }
  /** Ring `dial.number`; `index` counts the call's dials from 0 (the script says how each is answered). */
  | { type: "dial"; dial: DialVerb; index: number }
  /** Open a new media stream; the caller goes on with its script. */
  | { type: "stream"; stream: StreamTwiml }
  | { type: "end"; endedBy: EndedBy; error?: string };

/** DialCallStatus for how the script says the staff answer: an answered dial is "completed" when it ends. */
export function dialCallStatus(answer: DialAnswer): string {
  return answer === "answered" ? "completed" : answer;
}

export class CallControl {
  readonly says: SaidByTwilio[] = [];
  readonly dials: DialRecord[] = [];
  /** A <Connect> brought the caller back to the agent after its stream had ended. */
  returned = false;
  private hops = 0;
  /** Verbs of the current document not run yet. */
  private pending: TwimlVerb[] = [];
  private dialing: DialVerb | undefined;
  private callerHungUp = false;
  /** What happened since the last stream the edge ended: it decides who ended the call. */
  private leg = { says: 0, dials: [] as DialRecord[] };

  handle(event: ControlEvent): ControlAction {
    switch (event.type) {
      case "streamEnded":
        return this.streamEnded(event.by, event.stream, event.detail);
      case "twiml":
        return this.document(event.verbs);
      case "dialEnded":
        return this.dialEnded(event.status, event.fields);
      case "failed":
        return { type: "end", endedBy: "error", error: event.reason };
    }
  }

  private streamEnded(by: "caller" | "edge", stream: StreamTwiml, detail: string): ControlAction {
    if (by === "caller") {
      this.callerHungUp = true;
      return stream.action === null ? { type: "end", endedBy: "caller" } : this.ask(stream.action, { CallStatus: "completed" }, "stream action");
    }
    this.leg = { says: 0, dials: [] };
    if (stream.action === null) return { type: "end", endedBy: "error", error: `the edge closed the media stream (${detail})` };
    return this.ask(stream.action, { CallStatus: "in-progress" }, "stream action");
  }

  private document(verbs: TwimlVerb[]): ControlAction {
    if (this.callerHungUp) {
      // Twilio runs nothing for a call that is over; our edge should say so with a bare <Hangup/>.
      const extra = verbs.filter((verb) => verb.verb !== "Hangup");
      if (extra.length === 0) return { type: "end", endedBy: "caller" };
      return { type: "end", endedBy: "caller", error: `the edge answered the end of a call the caller hung up with <${extra[0]!.verb}> rather than <Hangup/>` };
    }
    this.pending = [...verbs];
    return this.next();
  }

  private next(): ControlAction {
    for (let verb = this.pending.shift(); verb; verb = this.pending.shift()) {
      switch (verb.verb) {
        case "Say":
          this.says.push({ text: verb.text, language: verb.language });
          this.leg.says++;
          continue;
        case "Hangup":
          return this.end();
        case "Dial":
          this.dialing = verb;
          return { type: "dial", dial: verb, index: this.dials.length };
        case "Connect":
          // A <Connect> with an action never returns to the verbs after it.
          this.pending = [];
          this.returned = true;
          return { type: "stream", stream: verb.stream };
      }
    }
    // The end of a document hangs up.
    return this.end();
  }

  private dialEnded(status: string, fields: Record<string, string>): ControlAction {
    const dial = this.dialing;
    if (!dial) return { type: "end", endedBy: "error", error: "simulator: a dial ended that never started" };
    this.dialing = undefined;
    const record = { to: dial.number, status, withAction: dial.action !== null };
    this.dials.push(record);
    this.leg.dials.push(record);
    if (dial.action === null) return this.next();
    return this.ask(dial.action, { CallStatus: "in-progress", DialCallStatus: status, ...fields }, "dial action");
  }

  private ask(url: string, fields: Record<string, string>, what: string): ControlAction {
    if (++this.hops > MAX_TWIML_HOPS) {
      return { type: "end", endedBy: "error", error: `more than ${MAX_TWIML_HOPS} TwiML documents after the webhook: the call loops (next was ${what} ${url})` };
    }
    return { type: "fetch", url, fields, what };
  }

  private end(): ControlAction {
    const { says, dials } = this.leg;
    if (dials.some((dial) => !dial.withAction)) return { type: "end", endedBy: "fallback" };
    const last = dials.at(-1);
    if (last && dialReachedStaff(last.status)) return { type: "end", endedBy: "transfer" };
    return { type: "end", endedBy: says > 0 ? "fallback" : "agent" };
  }
}
