// The tools of a call, as a shell: when the model asks for tools, the calls go into the history
// (and the state the edge keeps) before they run, they run through the business's endpoints
// (tools/http-caller.ts), a cached filler fills the wait, and each result (or failure, never an
// invented one) goes into the history next to its call. Rules that keep a booking single:
// - a speculative answer runs read-only tools only; one that needs a tool with side effects halts
//   and is discarded at its turn, which then asks again. end_call counts as read-only: a farewell
//   may be prepared speculatively, and the call ends only once the turn adopts it;
// - a barge-in aborts read-only tools; a side-effecting one runs to its end and its result is
//   recorded, and the next answer waits for it before asking the model;
// - a core that dies mid-call leaves the call in the state: the next core makes it again with the
//   same id, which the business's service answers with the first outcome (the idempotency key).
// The core's own tools (control-tools.ts: end_call, transfer_to_staff, take_message) are offered
// beside the agent file's and recorded the same way; a call that ends the call gets its last words
// (the goodbye when the model said none, the transfer announcement) and the session takes it from there.
import type { CoreEnd } from "@voice/protocol";
import type { ChatMessage, ToolCallRequest, ToolDefinition } from "../llm/types.js";
import type { ToolCaller, ToolOutcome, ToolSpec } from "../tools/types.js";
import type { Answer } from "./answer.js";
import { controlCall, controlDefinitions, isControlTool, type ControlAvailability, type ControlOutcome } from "./control-tools.js";
import { BUILT_IN_TOOLS } from "../tools/agent-schema.js";
import type { CallContext } from "./ports.js";
import type { ToolRounds } from "./produce.js";

/** A side-effecting call is never abandoned: its own timeout is its only end. */
const NEVER = new AbortController().signal;

export interface ToolRunnerPort extends Pick<CallContext, "callId" | "config" | "log" | "stats" | "conversation" | "sendState"> {
  /** Runs the agent file's tools (absent: the agent has none). */
  caller?: ToolCaller;
  /** The caller's and the called numbers, once the call's `start` named them. */
  numbers(): { from?: string; to?: string };
  /** What the call can do now besides the agent file's tools. */
  controls(): ControlAvailability;
  /** `answer` ended the call (end_call, transfer_to_staff): once it played to its end, `end` goes to the edge. */
  endAfter(answer: Answer, end: CoreEnd): void;
}

type ToolMessage = Extract<ChatMessage, { role: "tool" }>;

export class ToolRunner implements ToolRounds {
  private readonly definitions: readonly ToolDefinition[];
  readonly maxRounds: number;
  /** The core's own phrases in an answer (the fillers while a tool runs, the goodbye, the transfer announcement): never part of the history. */
  readonly fillers: ReadonlySet<string>;
  private readonly specs: ReadonlyMap<string, ToolSpec>;
  private readonly sideEffects = new Set<Promise<unknown>>();

  constructor(
    tools: readonly ToolSpec[],
    private readonly port: ToolRunnerPort,
  ) {
    // Without a caller the agent file's tools cannot run: they are not offered.
    const runnable = port.caller ? tools : [];
    this.specs = new Map(runnable.map((tool) => [tool.name, tool]));
    this.definitions = runnable.map(({ name, description, parameters }) => ({ name, description, parameters }));
    this.maxRounds = port.config.TOOL_MAX_ROUNDS;
    const { tool_wait, tool_wait_more, tool_failed, goodbye, transfer_announce } = port.config.FIXED_PHRASES;
    this.fillers = new Set([tool_wait, tool_wait_more, tool_failed, goodbye, transfer_announce]);
  }

  /** The tools offered on a request now: the agent file's, and the built-in ones the call can do at this moment. */
  offered(): readonly ToolDefinition[] {
    return [...this.definitions, ...controlDefinitions(this.port.controls())];
  }

  /** A side-effecting call is running. */
  get running(): boolean {
    return this.sideEffects.size > 0;
  }

  /** Resolves once no side-effecting call is running (each ends by its own timeout at the latest). */
  async settled(): Promise<void> {
    while (this.sideEffects.size > 0) await Promise.allSettled([...this.sideEffects]);
  }

  async run(answer: Answer, calls: ToolCallRequest[], text = ""): Promise<void> {
    // end_call acts only once its answer is the caller's (see end()): a speculative farewell may be prepared.
    const readOnly = (call: ToolCallRequest) => this.specs.get(call.name)?.sideEffects === false || call.name === BUILT_IN_TOOLS.endCall;
    if (answer.speculative && !calls.every(readOnly)) {
      answer.halted = true;
      return;
    }
    const { conversation } = this.port;
    let callEntry: ChatMessage;
    if (answer.speculative) answer.exchange.push((callEntry = { role: "assistant", content: text, toolCalls: calls }));
    else {
      // Recorded before anything runs: a core that dies now leaves the next one the call to repeat.
      callEntry = conversation.toolsCalled(text, calls);
      if (answer.speech) conversation.recordedThrough(answer.speech, answer.speaker.sentenceCount);
      this.port.sendState();
    }
    await this.execute(answer, calls, callEntry, text);
  }

  /** A resumed call: the previous core recorded these calls (`callEntry`) but not their results. */
  async rerun(answer: Answer, calls: ToolCallRequest[], callEntry: ChatMessage | undefined): Promise<void> {
    await this.execute(answer, calls, callEntry);
  }

  private async execute(answer: Answer, calls: ToolCallRequest[], callEntry: ChatMessage | undefined, text = ""): Promise<void> {
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
    const available = this.port.controls();
    const controls = calls.map((call) => (isControlTool(call.name) ? controlCall(call, available) : undefined));
    const outcomes = await Promise.all(calls.map((call, i) => (controls[i] ? Promise.resolve(controlToolOutcome(controls[i])) : this.callOne(answer, call))));
    for (const timer of fillers) clearTimeout(timer);
    const report = answer.report;
    let ending: CoreEnd | undefined;
    for (const [i, call] of calls.entries()) {
      const outcome = outcomes[i]!;
      const control = controls[i];
      let content = control?.kind === "result" ? control.content : JSON.stringify(outcome.ok ? { result: outcome.result } : { error: outcome.error });
      if (control?.kind === "end" && !answer.interrupted) {
        // The call ends after this answer: the call stays without a result.
        ending ??= control.end;
        this.counted(answer, call, outcome);
        continue;
      }
      // The caller spoke while other tools of the round ran: their words come first, the call goes on.
      if (control?.kind === "end") content = JSON.stringify({ error: "not done: the caller spoke before the call could end" });
      const message: ToolMessage = { role: "tool", toolCallId: call.id, name: call.name, content };
      // A speculative answer played meanwhile adopted its exchange (the same objects): the result joins its call there.
      if (answer.speculative) answer.exchange.push(message);
      else if (callEntry) conversation.toolAnswered(callEntry, message);
      else conversation.adopt([message]);
      this.counted(answer, call, outcome);
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
    // The caller hears at once that it did not work; the model, told so, says what comes next. (A
    // built-in tool's refusal is the model's to explain.)
    if (outcomes.some((outcome, i) => !outcome.ok && !controls[i])) say(config.FIXED_PHRASES.tool_failed);
    if (ending) this.end(answer, ending, text);
  }

  /** The answer ends the call: its last words (the model's, else the goodbye; the transfer announcement), then the session's. */
  private end(answer: Answer, end: CoreEnd, text: string): void {
    const { FIXED_PHRASES } = this.port.config;
    const lastWords = end.reason === "transfer" ? FIXED_PHRASES.transfer_announce : text.trim() === "" ? FIXED_PHRASES.goodbye : undefined;
    if (lastWords !== undefined) answer.speaker.say(lastWords);
    answer.ending = end;
    // A speculative answer ends the call only if it is used: the turn that adopts it does (answering.ts).
    if (!answer.speculative) this.port.endAfter(answer, end);
  }

  /** One call counted (CALL line, TURN line) and logged: the tool and how it went, never its arguments. */
  private counted(answer: Answer, call: ToolCallRequest, outcome: ToolOutcome): void {
    const { stats } = this.port;
    stats.toolCalls++;
    if (!outcome.ok) stats.toolFailures++;
    if (answer.report) (answer.report.tools ??= []).push({ name: call.name, ok: outcome.ok, ms: outcome.ms });
    this.port.log.info({ turn: answer.turn, tool: call.name, ok: outcome.ok, ms: Math.round(outcome.ms), ...(outcome.ok ? {} : { error: outcome.error }) }, "tool called");
  }

  private callOne(answer: Answer, call: ToolCallRequest): Promise<ToolOutcome> {
    const spec = this.specs.get(call.name);
    if (!spec || !this.port.caller) return Promise.resolve({ ok: false, error: `there is no tool named ${call.name}`, ms: 0, attempts: 0, timedOut: false });
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

/** A built-in call's outcome in the form the counters and the TURN line take (it ran in no time). */
function controlToolOutcome(control: ControlOutcome): ToolOutcome {
  return control.kind === "result" && !control.ok ? { ok: false, error: control.error, ms: 0, attempts: 0, timedOut: false } : { ok: true, result: null, ms: 0, attempts: 1 };
}
