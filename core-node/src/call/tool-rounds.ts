// The tools of a call, as a shell: when the model asks for tools, the calls go into the history
// (and the state the edge keeps) before they run, they run through the business's endpoints
// (tools/http-caller.ts), a cached filler fills the wait, and each result (or failure, never an
// invented one) goes into the history next to its call. Rules that keep a booking single:
// - a speculative answer runs read-only tools only; one that needs a tool with side effects halts
//   and is discarded at its turn, which then asks again;
// - a barge-in aborts read-only tools; a side-effecting one runs to its end and its result is
//   recorded, and the next answer waits for it before asking the model;
// - a core that dies mid-call leaves the call in the state: the next core makes it again with the
//   same id, which the business's service answers with the first outcome (the idempotency key).
import type { ChatMessage, ToolCallRequest, ToolDefinition } from "../llm/types.js";
import type { ToolCaller, ToolOutcome, ToolSpec } from "../tools/types.js";
import type { Answer } from "./answer.js";
import type { CallContext } from "./ports.js";
import type { ToolRounds } from "./produce.js";

/** A side-effecting call is never abandoned: its own timeout is its only end. */
const NEVER = new AbortController().signal;

export interface ToolRunnerPort extends Pick<CallContext, "callId" | "config" | "log" | "stats" | "conversation" | "sendState"> {
  caller: ToolCaller;
  /** The caller's and the called numbers, once the call's `start` named them. */
  numbers(): { from?: string; to?: string };
}

type ToolMessage = Extract<ChatMessage, { role: "tool" }>;

export class ToolRunner implements ToolRounds {
  readonly definitions: readonly ToolDefinition[];
  readonly maxRounds: number;
  /** The fillers: said while a tool runs, never part of the history. */
  readonly fillers: ReadonlySet<string>;
  private readonly specs: ReadonlyMap<string, ToolSpec>;
  private readonly sideEffects = new Set<Promise<unknown>>();

  constructor(
    tools: readonly ToolSpec[],
    private readonly port: ToolRunnerPort,
  ) {
    this.specs = new Map(tools.map((tool) => [tool.name, tool]));
    this.definitions = tools.map(({ name, description, parameters }) => ({ name, description, parameters }));
    this.maxRounds = port.config.TOOL_MAX_ROUNDS;
    const { tool_wait, tool_wait_more, tool_failed } = port.config.FIXED_PHRASES;
    this.fillers = new Set([tool_wait, tool_wait_more, tool_failed]);
  }

  /** Resolves once no side-effecting call is running (each ends by its own timeout at the latest). */
  async settled(): Promise<void> {
    while (this.sideEffects.size > 0) await Promise.allSettled([...this.sideEffects]);
  }

  async run(answer: Answer, calls: ToolCallRequest[], text = ""): Promise<void> {
    if (answer.speculative && calls.some((call) => this.specs.get(call.name)?.sideEffects !== false)) {
      answer.halted = true;
      return;
    }
    const { conversation } = this.port;
    let callEntry: ChatMessage;
    if (answer.speculative) answer.exchange.push((callEntry = { role: "assistant", content: text, toolCalls: calls }));
    else {
      // Recorded before anything runs: a core that dies now leaves the next one the call to repeat.
      callEntry = conversation.toolsCalled(text, calls);
      if (answer.speech) conversation.takeUnrecorded(answer.speech, answer.speaker.spoken);
      this.port.sendState();
    }
    await this.execute(answer, calls, callEntry);
  }

  /** A resumed call: the previous core recorded these calls (`callEntry`) but not their results. */
  async rerun(answer: Answer, calls: ToolCallRequest[], callEntry: ChatMessage | undefined): Promise<void> {
    await this.execute(answer, calls, callEntry);
  }

  private async execute(answer: Answer, calls: ToolCallRequest[], callEntry: ChatMessage | undefined): Promise<void> {
    const { config, conversation, stats } = this.port;
    const startedAt = performance.now();
    let filler = false;
    const say = (text: string) => {
      if (answer.speculative || answer.interrupted || !answer.speaker.accepting) return;
      answer.speaker.say(text);
      filler = true;
    };
    const fillers = [
      setTimeout(() => say(config.FIXED_PHRASES.tool_wait), config.TOOL_FILLER_MS),
      setTimeout(() => say(config.FIXED_PHRASES.tool_wait_more), 3 * config.TOOL_FILLER_MS),
    ];
    const outcomes = await Promise.all(calls.map((call) => this.callOne(answer, call)));
    for (const timer of fillers) clearTimeout(timer);
    const report = answer.report;
    for (const [i, call] of calls.entries()) {
      const outcome = outcomes[i]!;
      const message: ToolMessage = { role: "tool", toolCallId: call.id, name: call.name, content: JSON.stringify(outcome.ok ? { result: outcome.result } : { error: outcome.error }) };
      // A speculative answer played meanwhile adopted its exchange (the same objects): the result joins its call there.
      if (answer.speculative) answer.exchange.push(message);
      else if (callEntry) conversation.toolAnswered(callEntry, message);
      else conversation.adopt([message]);
      stats.toolCalls++;
      if (!outcome.ok) stats.toolFailures++;
      if (report) (report.tools ??= []).push({ name: call.name, ok: outcome.ok, ms: outcome.ms });
      this.port.log.info({ turn: answer.turn, tool: call.name, ok: outcome.ok, ms: Math.round(outcome.ms), ...(outcome.ok ? {} : { error: outcome.error }) }, "tool called");
    }
    if (!answer.speculative) this.port.sendState();
    if (report) {
      // TOOL_MS is the tool wait inside TOTAL_LATENCY_MS: up to the answer's first audio (a filler, or
      // words before the call), so TOTAL − TOOL_MS is what the stack itself took.
      const firstAudioAt = answer.speaker.firstAudio?.firstFrameAt;
      const silentUntil = firstAudioAt === undefined ? performance.now() : Math.min(performance.now(), Math.max(startedAt, firstAudioAt));
      report.toolMs = (report.toolMs ?? 0) + (silentUntil - startedAt);
      report.toolFiller = (report.toolFiller ?? false) || filler;
    }
    // The caller hears at once that it did not work; the model, told so, says what comes next.
    if (outcomes.some((outcome) => !outcome.ok)) say(config.FIXED_PHRASES.tool_failed);
  }

  private callOne(answer: Answer, call: ToolCallRequest): Promise<ToolOutcome> {
    const spec = this.specs.get(call.name);
    if (!spec) return Promise.resolve({ ok: false, error: `there is no tool named ${call.name}`, ms: 0, attempts: 0, timedOut: false });
    let args: unknown;
    try {
      args = JSON.parse(call.arguments);
    } catch {
      return Promise.resolve({ ok: false, error: "the arguments are not JSON", ms: 0, attempts: 0, timedOut: false });
    }
    const context = { callSid: this.port.callId, ...this.port.numbers(), toolCallId: call.id, signal: spec.sideEffects ? NEVER : answer.llm.signal };
    const outcome = this.port.caller.call(spec, args, context);
    if (spec.sideEffects) {
      this.sideEffects.add(outcome);
      void outcome.finally(() => this.sideEffects.delete(outcome));
    }
    return outcome;
  }
}
