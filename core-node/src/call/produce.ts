// An answer's words: the conversation goes to the LLM, and its stream is cut into sentences for the
// speaker as it arrives, so the first sentence plays while the rest is still being written. A request
// that fails (an HTTP error, a cut stream) or stalls (LLM_FIRST_TOKEN_TIMEOUT_MS without a token) is
// retried once if nothing was spoken yet; otherwise, or when the retry fails too, the caller hears
// FIXED_PHRASES.answer_error.
import { errorText } from "../app.js";
import type { Config } from "../config.js";
import { SentenceSplitter } from "../llm/sentences.js";
import { LlmStallError, withStallDeadline } from "../llm/stall.js";
import type { ChatMessage, ChatModel } from "../llm/types.js";
import type { Logger } from "../metrics/log.js";
import type { Answer } from "./answer.js";

export interface AnsweringContext {
  config: Pick<Config, "systemPrompt" | "LANGUAGE" | "LLM_FIRST_TOKEN_TIMEOUT_MS" | "FIXED_PHRASES">;
  llm: ChatModel;
  callId: string;
  /** The call's logger. */
  log: Logger;
  /** An LLM request is retried (the CALL line counts it). */
  onRetry(): void;
}

/** Streams the LLM's answer to `history` into the answer's speaker (a turn's answer: it has a report). Never throws. */
export async function produceAnswer(answer: Answer, history: readonly ChatMessage[], context: AnsweringContext): Promise<void> {
  const { config, llm, callId, log } = context;
  const { speaker } = answer;
  const report = answer.report!;
  const messages: ChatMessage[] = [{ role: "system", content: config.systemPrompt }, ...history.map((message) => ({ ...message }))];
  let failure: unknown;
  // A fallback turn's interim phrase came before: it is not part of what the LLM said.
  const before = speaker.sentenceCount;
  const answered = () => speaker.sentenceCount - before;
  report.timeline.llmRequestAt = performance.now();
  for (let attempt = 1; speaker.accepting; attempt++) {
    failure = undefined;
    const splitter = new SentenceSplitter(config.LANGUAGE);
    const request = (signal: AbortSignal) => llm.stream(messages, { signal, callId });
    try {
      for await (const text of withStallDeadline(request, answer.llm.signal, config.LLM_FIRST_TOKEN_TIMEOUT_MS)) {
        report.timeline.llmFirstTokenAt ??= performance.now();
        for (const sentence of splitter.push(text)) speaker.say(sentence);
        // A sentence failed to synthesize and the fallback phrase ended the answer.
        if (!speaker.accepting) break;
      }
      for (const sentence of splitter.flush()) speaker.say(sentence);
      break;
    } catch (error) {
      if (answer.llm.signal.aborted) break; // the caller interrupted
      failure = error;
      if (attempt > 1 || answered() > 0) break;
      context.onRetry();
      report.retries++;
      // The caller's wait is measured from the first request to the first token they can get.
      report.timeline.llmFirstTokenAt = undefined;
      log.warn({ turn: answer.turn, error: errorText(error), stalled: error instanceof LlmStallError, attempt }, "LLM failed; retrying");
    }
  }
  if (!answer.interrupted && speaker.accepting) {
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
  await speaker.finish();
}
