// Calls that move between cores, end to end on loopback (real emulators, EdgeLink playing the edge
// and Twilio): the core tells the edge the conversation after every change (core.state), takes over
// a call another core began (edge.resume), and on SIGTERM drains (the sentence playing finishes, the
// rest is cleared, core.state, core.move, close 1012). Also the greeting the edge plays from KV: a
// caller talking over it stops it, and the model never hears of a greeting the caller did not hear.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLOSE_CORE_MOVING, callLine, type ConversationState } from "@voice/protocol";
import { answerFor } from "../../../infra/local/emulators/chat-answers.js";
import script from "../../../infra/caller-scripts/default.he.json" with { type: "json" };
import { startServer } from "../server.js";
import { EdgeLink, NO_SPECULATION, TEST_GREETING as GREETING, callerSpeech, startCore, until, type CoreUnderTest } from "../../testing/core-harness.js";

const [HOURS_QUESTION, BOOKING_QUESTION] = script.lines as [string, string];
/** The chat emulator answers this from the history: with the first thing the caller asked. */
const RECALL_QUESTION = "מה שאלתי קודם?";

let core: CoreUnderTest;
let hoursQuestion: Uint8Array;

beforeAll(async () => {
  // The tests list every LLM request of a call.
  [core, hoursQuestion] = await Promise.all([startCore({ env: NO_SPECULATION }), callerSpeech(HOURS_QUESTION)]);
});

afterAll(async () => {
  await core?.close();
});

/** The messages of each LLM request made for the call, as [role, content] pairs. */
function llmRequests(callSid: string): string[][][] {
  return core.emulators.openai.stats.completions
    .filter((completion) => completion.callId === callSid)
    .map((completion) => completion.messages.map((message) => [message.role, String(message.content)]));
}

const said = (role: "user" | "assistant", content: string) => ({ role, content });

// Until the drain, each test checks only its own call: they run side by side.
describe.concurrent("the greeting the edge plays", () => {
  it("stops when the caller talks over it, and leaves the conversation as unheard", async ({ expect }) => {
    const call = await core.open("CA-over-greeting");
    call.begin(true); // the edge's greeting is playing: its mark is not echoed
    await call.say(hoursQuestion, 300);
    await call.next((frame) => frame.event === "clear");
    expect(await core.logs.next("BARGE_IN", { call_id: "CA-over-greeting" })).toMatchObject({ turn: 0, heard_sentences: 0 });
    await call.next((frame) => frame.event === "core.state" && frame.state.history.length === 2);

    expect(llmRequests("CA-over-greeting")).toEqual([
      [
        ["system", core.app.config.systemPrompt],
        ["user", HOURS_QUESTION],
      ],
    ]);
    // The edge heard of the greeting, of its removal, of the turn taken and of its answer; each once.
    expect(call.states).toEqual([
      { turns: 0, history: [said("assistant", GREETING)] },
      { turns: 0, history: [] },
      { turns: 1, history: [said("user", HOURS_QUESTION)] },
      { turns: 1, history: [said("user", HOURS_QUESTION), said("assistant", answerFor(HOURS_QUESTION))] },
    ]);
    await call.hangUp();
  });
});

describe.concurrent("a call resumed from another core", () => {
  it("answers at once a caller's message the previous core left unanswered, from the conversation handed over", async ({ expect }) => {
    const history: ConversationState["history"] = [
      said("assistant", GREETING),
      said("user", HOURS_QUESTION),
      said("assistant", answerFor(HOURS_QUESTION)),
      said("user", RECALL_QUESTION),
    ];
    const call = await core.open("CA-resumed-pending");
    call.resume({ turns: 2, history });
    // The next turn, and no greeting: the answer recalls what the caller asked the previous core.
    const answer = await call.markStarting("3.1:");
    expect(answer).toContain(HOURS_QUESTION);
    await call.mark("3.end");
    expect(call.marks().filter((name) => name.startsWith("0."))).toEqual([]);
    expect(llmRequests("CA-resumed-pending")).toEqual([[["system", core.app.config.systemPrompt], ...history.map((m) => [m.role, m.content])]]);
    expect(await core.logs.next("resumed turn answered", { call_id: "CA-resumed-pending" })).toMatchObject({ turn: 3, interrupted: false });
    expect(core.logs.find("TURN", { call_id: "CA-resumed-pending" })).toEqual([]);

    const final = await call.next((frame) => frame.event === "core.state" && frame.state.turns === 3);
    expect(call.states[0]).toEqual({ turns: 2, history });
    expect(final).toEqual({ event: "core.state", state: { turns: 3, history: [...history, said("assistant", answer.slice("3.1:".length))] } });
    await call.hangUp();
    expect(callLine.parse(await core.logs.next("CALL", { call_id: "CA-resumed-pending" }))).toMatchObject({ turns: 3, end_reason: "stop" });
  });

  it("waits for the caller when the agent spoke last, then goes on with the same conversation", async ({ expect }) => {
    const history: ConversationState["history"] = [
      said("assistant", GREETING),
      said("user", BOOKING_QUESTION),
      said("assistant", answerFor(BOOKING_QUESTION)),
    ];
    const call = await core.open("CA-resumed-answered");
    call.resume({ turns: 1, history });
    // A second of the caller's silence: a pending answer would have begun long before.
    await call.say(new Uint8Array(0), 1000);
    expect(call.states).toEqual([{ turns: 1, history }]);
    expect(call.marks()).toEqual([]);
    expect(llmRequests("CA-resumed-answered")).toEqual([]);

    await call.say(hoursQuestion, 0);
    await call.mark("2.end");
    expect(llmRequests("CA-resumed-answered")).toEqual([
      [["system", core.app.config.systemPrompt], ...history.map((m) => [m.role, m.content]), ["user", HOURS_QUESTION]],
    ]);
    await call.hangUp();
  });
});

describe("draining on SIGTERM", () => {
  it("lets the caller finish the words in progress and hands them to the next core unanswered", async () => {
    // A second server on the same app: draining it leaves the first one serving.
    const draining = await startServer(core.app, { port: 0, host: "127.0.0.1" });
    const call = await EdgeLink.open(draining.port, "CA-drained-speaking");
    call.begin(true, { speed: 2 });
    call.echo("greeting");
    void call.say(hoursQuestion, 300);
    await until(() => call.audioSentMs > 300 + 800, "the caller to be well into the question");
    const drained = draining.close();
    expect(await call.closed).toBe(CLOSE_CORE_MOVING);
    await drained;
    expect(call.states.at(-1)).toEqual({ turns: 0, history: [said("assistant", GREETING), said("user", HOURS_QUESTION)] });
    expect(call.marks()).toEqual([]);
    expect(llmRequests("CA-drained-speaking")).toEqual([]);
    expect(await core.logs.next("caller turn left to the next core", { call_id: "CA-drained-speaking" })).toMatchObject({ transcript: HOURS_QUESTION });
    expect(callLine.parse(await core.logs.next("CALL", { call_id: "CA-drained-speaking" }))).toMatchObject({ turns: 0, end_reason: "moved" });
  });

  // Closes the server: the last test of the file.
  it("lets the sentence playing finish, clears the rest, hands the edge what was heard and moves the call", async () => {
    const call = await core.open("CA-drained");
    call.begin(true, { speed: 2 });
    call.echo("greeting");
    await call.say(hoursQuestion, 300);
    const first = await call.markStarting("1.1:");
    const second = await call.markStarting("1.2:");
    // Both sentences were sent; the first (seconds of audio) is still playing.
    expect(call.echoed).not.toContain(first);

    const drainedFrom = call.received.length;
    const startedAt = performance.now();
    const drained = core.server.close();
    expect(await call.closed).toBe(CLOSE_CORE_MOVING);
    await drained;
    expect(performance.now() - startedAt).toBeLessThan(8000);

    // The first sentence played to its end; the second was cleared before a word of it was heard.
    expect(call.echoed).toContain(first);
    expect(call.released).not.toContain(first);
    expect(call.released).toContain(second);
    // Nothing new was sent; the link ended with the clear, the conversation as heard, and the move.
    expect(call.received.slice(drainedFrom).filter((frame) => frame.event === "media")).toEqual([]);
    expect(call.received.slice(-3).map((frame) => frame.event)).toEqual(["clear", "core.state", "core.move"]);
    expect(call.received.at(-1)).toEqual({ event: "core.move", reason: "draining" });
    expect(call.states.at(-1)).toEqual({
      turns: 1,
      history: [said("assistant", GREETING), said("user", HOURS_QUESTION), said("assistant", first.slice("1.1:".length))],
    });
    expect(callLine.parse(await core.logs.next("CALL", { call_id: "CA-drained" }))).toMatchObject({ turns: 1, end_reason: "moved" });
    // No new call is taken.
    await expect(core.open("CA-too-late")).rejects.toThrow();
  });
});
