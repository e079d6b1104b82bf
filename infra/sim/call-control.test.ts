import { describe, expect, it } from "vitest";
import { CallControl, MAX_TWIML_HOPS, dialCallStatus, type ControlAction, type ControlEvent } from "./call-control.js";
import type { StreamTwiml, TwimlVerb } from "./twiml.js";

const STREAM: StreamTwiml = { streamUrl: "wss://e/twilio/media", parameters: { token: "t" }, action: "https://e/twilio/stream-ended" };
const DIAL_ACTION = "https://e/twilio/dial-ended";
const transfer: TwimlVerb = { verb: "Dial", number: "+97235550100", action: DIAL_ACTION, timeoutS: 20, callerId: "+15005550006", whisperUrl: "https://e/twilio/whisper" };
const fallbackDial: TwimlVerb = { verb: "Dial", number: "+97235550199", action: null, timeoutS: null, callerId: null, whisperUrl: null };
const apology: TwimlVerb = { verb: "Say", text: "מצטערים, יש לנו תקלה.", language: "he-IL" };
const hangup: TwimlVerb = { verb: "Hangup" };
const edgeEnded: ControlEvent = { type: "streamEnded", by: "edge", stream: STREAM, detail: "code 1000" };

/** Runs events through a fresh machine; returns the actions, in order. */
function run(events: ControlEvent[]): { control: CallControl; actions: ControlAction[] } {
  const control = new CallControl();
  return { control, actions: events.map((event) => control.handle(event)) };
}

const twiml = (...verbs: TwimlVerb[]): ControlEvent => ({ type: "twiml", verbs });
const dialEnded = (status: string): ControlEvent => ({ type: "dialEnded", status, fields: { DialCallSid: "CA2" } });

describe("call control after the stream", () => {
  it("the caller hangs up: the action hears CallStatus=completed and the call is the caller's", () => {
    const { actions } = run([{ type: "streamEnded", by: "caller", stream: STREAM, detail: "" }, twiml(hangup)]);
    expect(actions).toEqual([
      { type: "fetch", url: STREAM.action, fields: { CallStatus: "completed" }, what: "stream action" },
      { type: "end", endedBy: "caller" },
    ]);
  });

  it("anything but <Hangup/> for a call the caller hung up is an error", () => {
    const { actions } = run([{ type: "streamEnded", by: "caller", stream: STREAM, detail: "" }, twiml(apology, fallbackDial)]);
    expect(actions.at(-1)).toEqual({ type: "end", endedBy: "caller", error: "the edge answered the end of a call the caller hung up with <Say> rather than <Hangup/>" });
  });

  it("the edge ends the stream and answers <Hangup/>: the agent ended the call", () => {
    const { actions } = run([edgeEnded, twiml(hangup)]);
    expect(actions).toEqual([
      { type: "fetch", url: STREAM.action, fields: { CallStatus: "in-progress" }, what: "stream action" },
      { type: "end", endedBy: "agent" },
    ]);
  });

  it("a transfer answered: ring, then the dial action hears DialCallStatus=completed, then the call is the staff's", () => {
    const { control, actions } = run([edgeEnded, twiml(transfer), dialEnded(dialCallStatus("answered")), twiml(hangup)]);
    expect(actions.slice(1)).toEqual([
      { type: "dial", dial: transfer, index: 0 },
      { type: "fetch", url: DIAL_ACTION, fields: { CallStatus: "in-progress", DialCallStatus: "completed", DialCallSid: "CA2" }, what: "dial action" },
      { type: "end", endedBy: "transfer" },
    ]);
    expect(control.dials).toEqual([{ to: "+97235550100", status: "completed", withAction: true }]);
    expect(control.returned).toBe(false);
  });

  it("a transfer nobody took: the caller comes back on a new stream, and hanging up later is the caller's end", () => {
    const back: StreamTwiml = { ...STREAM, parameters: { token: "t2" } };
    const { control, actions } = run([
      edgeEnded,
      twiml(transfer),
      dialEnded(dialCallStatus("no-answer")),
      twiml({ verb: "Connect", stream: back }),
      { type: "streamEnded", by: "caller", stream: back, detail: "" },
      twiml(hangup),
    ]);
    expect(actions[2]).toMatchObject({ type: "fetch", fields: { DialCallStatus: "no-answer" } });
    expect(actions[3]).toEqual({ type: "stream", stream: back });
    expect(actions.at(-1)).toEqual({ type: "end", endedBy: "caller" });
    expect(control.returned).toBe(true);
    expect(control.dials).toEqual([{ to: "+97235550100", status: "no-answer", withAction: true }]);
  });

  it("the human fallback: an apology and a dial with no way back, or the apology alone", () => {
    const dialled = run([edgeEnded, twiml(apology, fallbackDial), dialEnded("completed")]);
    expect(dialled.actions.slice(1)).toEqual([{ type: "dial", dial: fallbackDial, index: 0 }, { type: "end", endedBy: "fallback" }]);
    expect(dialled.control.says).toEqual([{ text: apology.text, language: "he-IL" }]);
    // Nobody at the fallback number either: still the fallback's end (the document runs out).
    expect(run([edgeEnded, twiml(apology, fallbackDial), dialEnded("no-answer")]).actions.at(-1)).toEqual({ type: "end", endedBy: "fallback" });
    expect(run([edgeEnded, twiml(apology, hangup)]).actions.at(-1)).toEqual({ type: "end", endedBy: "fallback" });
  });

  it("stops a call that loops after MAX_TWIML_HOPS documents", () => {
    const events: ControlEvent[] = [edgeEnded];
    for (let i = 0; i < MAX_TWIML_HOPS; i++) events.push(twiml(transfer), dialEnded("busy"));
    const { actions } = run(events);
    expect(actions.filter((a) => a.type === "fetch")).toHaveLength(MAX_TWIML_HOPS);
    expect(actions.at(-1)).toMatchObject({ type: "end", endedBy: "error", error: expect.stringMatching(/^more than 5 TwiML documents after the webhook/) });
  });

  it("a stream the edge closes without a <Connect action>, or a failed request, ends the call as an error", () => {
    const noAction = run([{ type: "streamEnded", by: "edge", stream: { ...STREAM, action: null }, detail: "code 1008: flood" }]);
    expect(noAction.actions).toEqual([{ type: "end", endedBy: "error", error: "the edge closed the media stream (code 1008: flood)" }]);
    expect(run([{ type: "streamEnded", by: "caller", stream: { ...STREAM, action: null }, detail: "" }]).actions).toEqual([{ type: "end", endedBy: "caller" }]);
    expect(run([edgeEnded, { type: "failed", reason: "stream action https://e answered 403" }]).actions.at(-1)).toEqual({
      type: "end",
      endedBy: "error",
      error: "stream action https://e answered 403",
    });
  });
});
