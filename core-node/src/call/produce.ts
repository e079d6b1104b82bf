// An answer's words: the conversation goes to the LLM, and its stream is cut into sentences for the
// speaker as it arrives, so the first sentence plays while the rest is still being written. When the
// model asks for tools, the round's text has been spoken, the tools run (tool-rounds.ts: fillers,
// results into the history) and the model is asked again with their results, up to TOOL_MAX_ROUNDS.
// A request that fails (an HTTP error, a cut stream) or stalls (LLM_FIRST_TOKEN_TIMEOUT_MS without a
// token) is retried once if nothing was spoken yet; otherwise, or when the retry fails too, the caller
// hears FIXED_PHRASES.answer_error.
import { errorText } from "../app.js";
import type { Config } from "../config.js";
import { SentenceSplitter } from "../llm/sentences.js";
import { LlmStallError, withStallDeadline } from "../llm/stall.js";
import type { ChatMessage, ChatModel, ToolCallRequest, ToolDefinition } from "../llm/types.js";
import type { Logger } from "../metrics/log.js";
import type { Answer } from "./answer.js";

/** The tools of an answer: what the model is offered, and who runs what it asks for. */
export interface ToolRounds {
  /** The tools offered on a request made now. */
  offered(): readonly ToolDefinition[];
  maxRounds: number;
  /** Runs the calls the model asked for after saying `text` this round; resolves once their results are in its messages. */
  run(answer: Answer, calls: ToolCallRequest[], text: string): Promise<void>;
}

export interface AnsweringContext {
  config: Pick<Config, "systemPrompt" | "LANGUAGE" | "LLM_FIRST_TOKEN_TIMEOUT_MS" | "FIXED_PHRASES">;
  llm: ChatModel;
  callId: string;
  /** The call's logger. */
  log: Logger;
  /** An LLM request is retried (the CALL line counts it). */
  onRetry(): void;
  /** Absent when the agent has no tools. */
  tools?: ToolRounds;
}

/**
 * Streams the LLM's answer to `history()` (read again each round: tool results join it) into the
 * answer's speaker (a turn's answer: it has a report). Never throws.
 */
export async function produceAnswer(answer: Answer, history: () => readonly ChatMessage[], context: AnsweringContext): Promise<void> {
  const { config, log, tools } = context;
  const { speaker } = answer;
  const report = answer.report!;
  // A fallback turn's interim phrase came before: it is not part of what the LLM said.
  const before = speaker.sentenceCount;
  const answered = () => speaker.sentenceCount - before;
  report.timeline.llmRequestAt = performance.now();
  let failure: unknown;
  for (let round = 1; speaker.accepting; round++) {
    // The last round offers no tools: the model must answer with what it has.
    const offered = tools && round <= tools.maxRounds ? tools.offered() : undefined;
    const outcome = await requestRound(answer, history(), offered, context, round === 1);
    failure = outcome.failure;
    if (failure !== undefined || outcome.calls.length === 0 || !tools || answer.interrupted) break;
    await tools.run(answer, outcome.calls, outcome.text);
    if (answer.halted || answer.ending) break;
  }
  if (!answer.interrupted && !answer.halted && speaker.accepting) {
    if (failure !== undefined) {
      log.warn({ turn: answer.turn, error: errorText(failure), stalled: failure instanceof LlmStallError }, "LLM failed; speaking the fallback phrase");
    } else if (answered() === 0) {
      log.warn({ turn: answer.turn }, "LLM answered nothing; speaking the fallback phrase");
    }
    if (failure !== undefined || answered() === 0) {
      speaker.say(config.FIXED_PHRASES.answer_error);
      report.fallbacks++;
    }
  }
  // A speculative answer halted before a side-effecting tool sends nothing more: it is discarded at its turn.
  if (answer.halted) return;
  await speaker.finish();
}

/** One request to the model (retried once while nothing of it was spoken): its text spoken, its tool calls returned. */
async function requestRound(
  answer: Answer,
  history: readonly ChatMessage[],
  tools: readonly ToolDefinition[] | undefined,
  context: AnsweringContext,
  firstRound: boolean,
): Promise<{ failure?: unknown; calls: ToolCallRequest[]; text: string }> {
  const { config, llm, callId, log } = context;
  const { speaker } = answer;
  const report = answer.report!;
  const messages: ChatMessage[] = [{ role: "system", content: config.systemPrompt }, ...history.map((message) => ({ ...message }))];
  const before = speaker.sentenceCount;
  let failure: unknown;
  for (let attempt = 1; speaker.accepting; attempt++) {
    failure = undefined;
    const calls: ToolCallRequest[] = [];
    let text = "";
    const splitter = new SentenceSplitter(config.LANGUAGE);
    const request = (signal: AbortSignal) => llm.stream(messages, { signal, callId, tools });
    try {
      for await (const event of withStallDeadline(request, answer.llm.signal, config.LLM_FIRST_TOKEN_TIMEOUT_MS)) {
        report.timeline.llmFirstTokenAt ??= performance.now();
        if (event.type === "toolCall") {
          calls.push(event.call);
          continue;
        }
        text += event.text;
        for (const sentence of splitter.push(event.text)) speaker.say(sentence);
        // A sentence failed to synthesize and the fallback phrase ended the answer.
        if (!speaker.accepting) break;
      }
      for (const sentence of splitter.flush()) speaker.say(sentence);
      return { calls: speaker.accepting ? calls : [], text: text.trim() };
    } catch (error) {
      if (answer.llm.signal.aborted) return { calls: [], text: "" }; // the caller interrupted
      failure = error;
      if (attempt > 1 || speaker.sentenceCount > before) break;
      context.onRetry();
      report.retries++;
      // The caller's wait is measured from the first request to the first token they can get.
      if (firstRound) report.timeline.llmFirstTokenAt = undefined;
      log.warn({ turn: answer.turn, error: errorText(error), stalled: error instanceof LlmStallError, attempt }, "LLM failed; retrying");
    }
  }
  return { failure, calls: [], text: "" };
}
