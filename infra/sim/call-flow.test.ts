// The simulated Twilio's call control against the fake edge: after the media stream it asks the
// <Connect action> what next and runs the answer (hang up, say, ring a number, stream again), and
// the report says how the call ended.
import { describe, expect, it, type TestContext } from "vitest";
import { runCall } from "./call.js";
import { startFakeEdge, type FakeCallControl, type FakeEdge } from "./fake-edge.js";
import type { CallReport } from "./report.js";
import type { CallerLine, CallerScript } from "./script.js";

const AUTH_TOKEN = "call-flow-test-token";
const CALLER = "+15005550006";
const STAFF = "+97235550100";
const FALLBACK = "+97235550199";
const script = (lines: CallerLine[], extra: Partial<CallerScript> = {}): CallerScript => ({ language: "he-IL", voice: "he", lines, ...extra });
const response = (verbs: string) => `<?xml version="1.0" encoding="UTF-8"?><Response>${verbs}</Response>`;
const transferTwiml = (base: string) =>
  response(`<Dial action="${base}/twilio/dial-ended" timeout="20" callerId="${CALLER}"><Number url="${base}/twilio/whisper">${STAFF}</Number></Dial>`);

/** A call against a fake edge of its own, closed when the test ends; with that edge, to see what it was asked. */
async function call(control: FakeCallControl, callerScript: CallerScript, onTestFinished: TestContext["onTestFinished"]): Promise<{ report: CallReport; edge: FakeEdge }> {
  const edge = await startFakeEdge({ authToken: AUTH_TOKEN, control });
  onTestFinished(() => edge.close());
  const report = await runCall({ url: edge.url, authToken: AUTH_TOKEN, script: callerScript, timeoutMs: 8000, from: CALLER });
  expect(edge.rejections).toEqual([]);
  return { report, edge };
}

// Each test's calls have their own fake edge: the tests run side by side.
describe.concurrent("call control after the media stream", () => {
  it("the edge ends the stream and hangs up: the agent ended the call, the caller stopped and its other lines are not said", async ({ expect, onTestFinished }) => {
    const { report, edge } = await call(
      { endStreamAfterAnswers: [1], streamEnded: () => response("<Hangup/>") },
      script(["שלום", { text: "תודה רבה", pauseMs: 2000 }]),
      onTestFinished,
    );
    expect(report.errors).toEqual([]);
    expect(report).toMatchObject({ ended_by: "agent", transferred_to: null, dead_air_ms: null, returned_to_agent: false, unsaid_lines: ["תודה רבה"] });
    expect(report.turns.map((t) => [t.caller_text, t.agent_text])).toEqual([["שלום", "answer 1"]]);
    const [ended] = edge.controlRequests;
    expect(edge.controlRequests).toHaveLength(1);
    expect(ended!.params).toMatchObject({ CallSid: report.call_sid, CallStatus: "in-progress", From: CALLER, AccountSid: expect.stringMatching(/^AC/) });
  });

  it("the caller hangs up after its last line: the action hears CallStatus=completed; lingering, it waits for the agent first", async ({ expect, onTestFinished }) => {
    const { report, edge } = await call({ streamEnded: () => response("<Hangup/>") }, script(["שלום"]), onTestFinished);
    expect(report.errors).toEqual([]);
    expect(report).toMatchObject({ ended_by: "caller", unsaid_lines: [] });
    expect(edge.controlRequests.map((r) => r.params.CallStatus)).toEqual(["completed"]);

    const lingering = await call({ endStreamAfterAnswers: [1], streamEnded: () => response("<Hangup/>") }, script(["שלום"], { lingerMs: 5000 }), onTestFinished);
    expect(lingering.report.errors).toEqual([]);
    expect(lingering.report.ended_by).toBe("agent");
    expect(lingering.edge.controlRequests.map((r) => r.params.CallStatus)).toEqual(["in-progress"]);
  });

  it("a transfer the staff answer: rings after the dead air, plays the whisper to them, and the call is theirs", async ({ expect, onTestFinished }) => {
    const delayMs = 300;
    const { report, edge } = await call(
      { endStreamAfterAnswers: [1], answerDelayMs: delayMs, streamEnded: (_, e) => transferTwiml(e.url), whisper: response('<Say language="he-IL">מטופל מבקש לקבוע תור</Say>') },
      script(["שלום"], { dial: "answered", dialTalkMs: 300, lingerMs: 3000 }),
      onTestFinished,
    );
    expect(report.errors).toEqual([]);
    expect(report).toMatchObject({ ended_by: "transfer", transferred_to: STAFF, dial_outcome: "completed", whisper_text: "מטופל מבקש לקבוע תור", returned_to_agent: false });
    // From the last agent audio to the ring: at least the edge's delay in answering, far less than a second more.
    expect(report.dead_air_ms!).toBeGreaterThanOrEqual(delayMs - 25);
    expect(report.dead_air_ms!).toBeLessThan(delayMs + 2000);
    const [ended, whisper, dialEnded] = edge.controlRequests;
    expect(edge.controlRequests.map((r) => r.path)).toEqual(["/twilio/stream-ended", "/twilio/whisper", "/twilio/dial-ended"]);
    expect(whisper!.params).toMatchObject({ ParentCallSid: report.call_sid, To: STAFF, From: CALLER, Direction: "outbound-dial" });
    expect(dialEnded!.params).toMatchObject({ CallSid: report.call_sid, DialCallStatus: "completed", DialCallSid: whisper!.params.CallSid });
    // The two talk for the script's time before the dial ends.
    expect(dialEnded!.at - whisper!.at).toBeGreaterThanOrEqual(250);
    expect(ended!.at).toBeLessThan(whisper!.at);
  });

  it("a transfer nobody takes: the caller comes back on a fresh stream, hears the agent first, and goes on with its script", async ({ expect, onTestFinished }) => {
    const { report, edge } = await call(
      { endStreamAfterAnswers: [1], streamEnded: (r, e) => (r.n === 0 ? transferTwiml(e.url) : response("<Hangup/>")), dialEnded: (_, e) => e.connectTwiml() },
      script(["שלום", { text: "תודה רבה", pauseMs: 1500 }], { dial: "no-answer" }),
      onTestFinished,
    );
    expect(report.errors).toEqual([]);
    expect(report).toMatchObject({ ended_by: "caller", transferred_to: STAFF, dial_outcome: "no-answer", whisper_text: null, returned_to_agent: true, return_answers: ["welcome back"], unsaid_lines: [] });
    expect(edge.controlRequests.map((r) => [r.path, r.params.DialCallStatus ?? r.params.CallStatus])).toEqual([
      ["/twilio/stream-ended", "in-progress"],
      ["/twilio/dial-ended", "no-answer"],
      ["/twilio/stream-ended", "completed"],
    ]);
    // A new stream: a fresh streamSid, the parameters the new <Connect> gave.
    const [first, second] = edge.streams;
    expect(second!.streamSid).not.toBe(first!.streamSid);
    expect(second!.parameters).toMatchObject({ callSid: report.call_sid, token: "t2" });
    expect(report.turns.map((t) => [t.caller_text, t.agent_text])).toEqual([["שלום", "answer 1"], ["תודה רבה", "answer 1"]]);
    // The second stream's times go on after the first's audio, as its recording does.
    expect(report.turns[1]!.speech_start_audio_ms!).toBeGreaterThan(report.turns[0]!.first_answer_audio_ms!);
    expect(report.recording.caller.length).toBe(report.recording.agent.length);
  });

  it("the human fallback for a silent caller's dead stream: the apology is said, the fallback number rung, and that is an error", async ({ expect, onTestFinished }) => {
    const apology = "מצטערים, יש לנו תקלה.";
    const { report } = await call(
      { endStreamAfterFrames: 60, streamEnded: () => response(`<Say language="he-IL">${apology}</Say><Dial>${FALLBACK}</Dial>`) },
      script([{ silenceMs: 30_000 }, { toneMs: 1000 }], { dialTalkMs: 0 }),
      onTestFinished,
    );
    expect(report).toMatchObject({ ended_by: "fallback", transferred_to: FALLBACK, dial_outcome: "completed", say_texts: [{ text: apology, language: "he-IL" }], unsaid_lines: ["[tone 1000 ms]"] });
    expect(report.errors).toEqual([expect.stringMatching(/human fallback/)]);
    expect(report.turns.map((t) => t.caller_kind)).toEqual(["silence"]);
  });

  it("reports TwiML it cannot act on, and stops a call whose TwiML loops", async ({ expect, onTestFinished }) => {
    const { report: unexpected } = await call({ endStreamAfterFrames: 30, streamEnded: () => response("<Play>https://x/hold.mp3</Play>") }, script([{ silenceMs: 5000 }]), onTestFinished);
    expect(unexpected.ended_by).toBe("error");
    expect(unexpected.errors).toEqual([expect.stringMatching(/^stream action http:\/\/127\.0\.0\.1:\d+\/twilio\/stream-ended: unexpected TwiML verb <Play>$/)]);

    const looping = await call(
      { endStreamAfterFrames: 30, streamEnded: (_, e) => transferTwiml(e.url), dialEnded: (_, e) => transferTwiml(e.url) },
      script([{ silenceMs: 5000 }], { dial: "busy" }),
      onTestFinished,
    );
    expect(looping.report.ended_by).toBe("error");
    expect(looping.report.errors).toEqual([expect.stringMatching(/^more than 5 TwiML documents after the webhook/)]);
    expect(looping.edge.controlRequests).toHaveLength(5);
  });
});
