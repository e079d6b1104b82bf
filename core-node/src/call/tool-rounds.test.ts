// The tool rounds' rules, on a real Answer and Conversation with a recording tool caller (our own
// port, not a client library): what a speculative answer may run, and where results go.
import type { CoreEnd } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import { OutboundFrames } from "../audio/frames.js";
import { loadConfig } from "../config.js";
import { pino } from "pino";
import type { ToolCaller, ToolSpec } from "../tools/types.js";
import { Answer } from "./answer.js";
import { CallStats } from "./call-stats.js";
import { Conversation } from "./conversation.js";
import { ToolRunner } from "./tool-rounds.js";
import { unmeasuredSpeechReport } from "./turn-report.js";

const spec = (name: string, sideEffects: boolean): ToolSpec => ({ name, description: name, parameters: { type: "object" }, endpoint: "http://127.0.0.1:1/x", sideEffects, timeoutMs: 1000 });
const TOOLS = [spec("find_slots", false), spec("book", true)];

function setUp(controls = { transfer: false, messages: true }) {
  const called: string[] = [];
  const ended: CoreEnd[] = [];
  const caller: ToolCaller = {
    async call(tool) {
      called.push(tool.name);
      return { ok: true, result: { tool: tool.name }, ms: 5, attempts: 1 };
    },
  };
  const conversation = new Conversation();
  const config = loadConfig({ CORE_SHARED_SECRET: "a-core-shared-secret-0123", TOOL_FILLER_MS: "10000" });
  const runner = new ToolRunner(TOOLS, {
    callId: "CA1",
    config,
    log: pino({ level: "silent" }),
    stats: new CallStats(),
    conversation,
    sendState: () => {},
    caller,
    numbers: () => ({}),
    controls: () => controls,
    endAfter: (_answer, end) => ended.push(end),
  });
  const answer = (speculative: boolean) =>
    new Answer(1, true, unmeasuredSpeechReport("x"), speculative, {
      frames: new OutboundFrames("MZ1"),
      synthesize: async () => ({ audio: new Uint8Array(160), cacheHit: true }),
      send: () => {},
      onMark: () => {},
      onError: () => {},
      now: () => performance.now(),
      held: speculative,
    });
  return { called, ended, conversation, runner, answer, config };
}

describe("tool rounds", () => {
  it("a speculative answer runs a read-only tool into its own exchange, never into the conversation", async () => {
    const { called, conversation, runner, answer } = setUp();
    const speculative = answer(true);
    await runner.run(speculative, [{ id: "c1", name: "find_slots", arguments: "{}" }], "");
    expect(called).toEqual(["find_slots"]);
    expect(speculative.halted).toBe(false);
    expect(speculative.exchange.map((m) => m.role)).toEqual(["assistant", "tool"]);
    expect(conversation.messages).toEqual([]);
  });

  it("a speculative answer that needs a tool with side effects (or one nobody declared) halts without calling it", async () => {
    const { called, runner, answer } = setUp();
    for (const name of ["book", "made_up"]) {
      const speculative = answer(true);
      await runner.run(speculative, [{ id: "c2", name, arguments: "{}" }], "");
      expect(speculative.halted).toBe(true);
    }
    expect(called).toEqual([]);
  });

  it("a committed answer records the call before it runs and the result right after the call, even when the caller spoke meanwhile", async () => {
    const { conversation, runner, answer } = setUp();
    const committed = answer(false);
    const running = runner.run(committed, [{ id: "c3", name: "book", arguments: '{"slot":"2026-12-07T09:30"}' }], "אני קובעת.");
    expect(conversation.messages).toEqual([{ role: "assistant", content: "אני קובעת.", toolCalls: [{ id: "c3", name: "book", arguments: '{"slot":"2026-12-07T09:30"}' }] }]);
    conversation.callerSaid("רגע");
    await running;
    expect(conversation.messages.map((m) => m.role)).toEqual(["assistant", "tool", "user"]);
    expect(conversation.messages[1]).toMatchObject({ toolCallId: "c3", name: "book", content: JSON.stringify({ result: { tool: "book" } }) });
  });

  it("end_call: recorded without a result, the goodbye said when the model said no words, and the call ends after the answer", async () => {
    const { called, ended, conversation, runner, answer, config } = setUp();
    const silent = answer(false);
    await runner.run(silent, [{ id: "e1", name: "end_call", arguments: "{}" }], "");
    expect(called).toEqual([]);
    expect(ended).toEqual([{ event: "core.end", reason: "agent" }]);
    expect(silent.ending).toEqual({ event: "core.end", reason: "agent" });
    expect(conversation.messages).toEqual([{ role: "assistant", content: "", toolCalls: [{ id: "e1", name: "end_call", arguments: "{}" }] }]);
    expect(silent.speaker.sentenceCount).toBe(1);
    expect(runner.fillers.has(config.FIXED_PHRASES.goodbye)).toBe(true);
    // With a farewell of its own, nothing is added to it.
    const worded = answer(false);
    await runner.run(worded, [{ id: "e2", name: "end_call", arguments: "{}" }], "להתראות!");
    expect(worded.speaker.sentenceCount).toBe(0);
  });

  it("take_message: a result for the model; refused without a reason, or when the call's record goes nowhere", async () => {
    const { conversation, runner, answer } = setUp();
    await runner.run(answer(false), [{ id: "m1", name: "take_message", arguments: '{"reason":"לחזור אליי מחר"}' }], "");
    await runner.run(answer(false), [{ id: "m2", name: "take_message", arguments: "{}" }], "");
    const results = conversation.messages.filter((m) => m.role === "tool").map((m) => JSON.parse(m.content) as unknown);
    expect(results).toEqual([{ result: { taken: true } }, { error: expect.stringContaining("reason is required") }]);
    const nowhere = setUp({ transfer: false, messages: false });
    await nowhere.runner.run(nowhere.answer(false), [{ id: "m3", name: "take_message", arguments: '{"reason":"x"}' }], "");
    expect(JSON.parse(nowhere.conversation.messages[1]!.content)).toEqual({ error: "take_message is not available on this call" });
  });

  it("transfer_to_staff: the announcement, then the end with the reason (at most 200 characters); refused outside the hours", async () => {
    const open = setUp({ transfer: true, messages: true });
    const transferring = open.answer(false);
    await open.runner.run(transferring, [{ id: "t1", name: "transfer_to_staff", arguments: JSON.stringify({ reason: `  ${"א".repeat(250)}  ` }) }], "");
    expect(open.ended).toEqual([{ event: "core.end", reason: "transfer", transferReason: "א".repeat(200) }]);
    expect(transferring.speaker.sentenceCount).toBe(1);
    expect(open.runner.offered().map((tool) => tool.name)).toEqual(["find_slots", "book", "end_call", "transfer_to_staff", "take_message"]);

    const closed = setUp({ transfer: false, messages: false });
    expect(closed.runner.offered().map((tool) => tool.name)).toEqual(["find_slots", "book", "end_call"]);
    await closed.runner.run(closed.answer(false), [{ id: "t2", name: "transfer_to_staff", arguments: '{"reason":"x"}' }], "");
    expect(closed.ended).toEqual([]);
    expect(JSON.parse(closed.conversation.messages[1]!.content)).toMatchObject({ error: expect.stringContaining("not available") });
  });
});
