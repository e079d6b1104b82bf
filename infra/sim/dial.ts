// A <Dial> as the simulated Twilio runs it: the number rings the moment the verb runs; the caller
// script says how it is answered. Answered: the person who picks up hears the <Number url>'s whisper
// first (Twilio fetches it only once someone answered), then the two talk for the script's dialTalkMs
// and the dial ends "completed". Not answered: it ends at once with "no-answer", "busy" or "failed"
// (Twilio would ring for the dial's timeout first; the simulator does not wait for it).
import { setTimeout as sleep } from "node:timers/promises";
import { dialCallStatus, type ControlEvent, type DialVerb } from "./call-control.js";
import { dialAnswer, type CallerScript } from "./script.js";
import { newSid, requestTwiml } from "./twilio-client.js";
import { describeVerbs } from "./twiml.js";

/** How long an answered dial lasts when the script does not say. */
export const DEFAULT_DIAL_TALK_MS = 1000;

export interface DialContext {
  authToken: string;
  /** The caller's call: the dialled leg's ParentCallSid. */
  callSid: string;
  accountSid: string;
  /** The caller's number, the dialled leg's From unless the <Dial> sets a callerId. */
  from: string;
  script: CallerScript;
  /** Bounds the whisper request. */
  requestTimeoutMs: number;
  log: (line: string) => void;
}

export interface DialResult {
  /** What ends the dial, for the call control. */
  event: ControlEvent;
  /** The whisper's <Say> texts, joined; null when no whisper played. */
  whisper: string | null;
}

/** Rings `dial.number` as the call's `index`-th dial (0-based); never rejects: a failed whisper is a `failed` event. */
export async function ringNumber(dial: DialVerb, index: number, context: DialContext): Promise<DialResult> {
  const answer = dialAnswer(context.script, index);
  const status = dialCallStatus(answer);
  const dialedSid = newSid("CA");
  context.log(`call ${context.callSid}: ringing ${dial.number}: ${answer}`);
  if (answer !== "answered") return { event: { type: "dialEnded", status, fields: { DialCallSid: dialedSid } }, whisper: null };

  let whisper: string | null = null;
  if (dial.whisperUrl !== null) {
    const params = {
      CallSid: dialedSid,
      ParentCallSid: context.callSid,
      AccountSid: context.accountSid,
      From: dial.callerId ?? context.from,
      To: dial.number,
      CallStatus: "in-progress",
      Direction: "outbound-dial",
    };
    try {
      const verbs = await requestTwiml(dial.whisperUrl, context.authToken, params, context.requestTimeoutMs, "whisper");
      const says = verbs.flatMap((verb) => (verb.verb === "Say" ? [verb.text] : []));
      if (says.length !== verbs.length) throw new Error(`the whisper ${dial.whisperUrl} holds ${describeVerbs(verbs)}; a whisper is <Say> only`);
      whisper = says.join(" ");
    } catch (error) {
      return { event: { type: "failed", reason: (error as Error).message }, whisper };
    }
  }
  const talkMs = context.script.dialTalkMs ?? DEFAULT_DIAL_TALK_MS;
  await sleep(talkMs);
  return { event: { type: "dialEnded", status, fields: { DialCallSid: dialedSid, DialCallDuration: String(Math.round(talkMs / 1000)) } }, whisper };
}
