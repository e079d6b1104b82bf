// The tool rounds' rules, on a real Answer and Conversation with a recording tool caller (our own
// port, not a client library): what a speculative answer may run, and where results go.
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

function setUp() {
  const called: string[] = [];
  const caller: ToolCaller = {
    async call(tool) {
      called.push(tool.name);
      return { ok: true, result: { tool: tool.name }, ms: 5, attempts: 1 };
    },
  };
  const conversation = new Conversation();
  const config = loadConfig({ CORE_SHARED_SECRET: "a-core-shared-secret-0123", TOOL_FILLER_MS: "10000" });
  const runner = new ToolRunner(TOOLS, { callId: "CA1", config, log: pino({ level: "silent" }), stats: new CallStats(), conversation, sendState: () => {}, caller, numbers: () => ({}) });
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
  return { called, conversation, runner, answer };
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
});
