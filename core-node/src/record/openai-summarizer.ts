// The summary's one LLM request, through the app's OpenAI client (its warm connections): not
// streamed (nobody is listening), JSON asked for as the response format. The answer's text is
// returned as it is; summary.ts reads it.
import type OpenAI from "openai";
import { CALL_ID_HEADER } from "@voice/protocol";
import { toOpenAiMessage } from "../llm/openai.js";
import type { ChatMessage } from "../llm/types.js";

export interface SummarizeOptions {
  /** Aborting stops the request (the deadline, a shutdown). */
  signal: AbortSignal;
  /** Sent as the call id header, so the request can be traced to its call. */
  callId: string;
  /** The SDK's timeout for this request (the app's client otherwise gives up after its own, shorter, one). */
  timeoutMs: number;
}

/** The model's answer to `messages` as text; rejects with a one-line error that quotes none of it. */
export type Summarizer = (messages: readonly ChatMessage[], options: SummarizeOptions) => Promise<string>;

/** A summary and its outcome fit in far less; a bound keeps a runaway answer cheap. */
export const SUMMARY_MAX_TOKENS = 600;

export function createOpenAiSummarizer(client: OpenAI, model: string): Summarizer {
  return async (messages, { signal, callId, timeoutMs }) => {
    const completion: unknown = await client.chat.completions.create(
      { model, messages: messages.map(toOpenAiMessage), response_format: { type: "json_object" }, max_completion_tokens: SUMMARY_MAX_TOKENS },
      { signal, timeout: timeoutMs, headers: { [CALL_ID_HEADER]: callId } },
    );
    // The SDK returns a body that is not JSON (a proxy's error page) as text, unchecked.
    const content = messageContent(completion);
    if (content === undefined) throw new Error("the summary completion has no message content");
    return content;
  };
}

function messageContent(completion: unknown): string | undefined {
  if (typeof completion !== "object" || completion === null) return undefined;
  const choices = (completion as { choices?: unknown }).choices;
  const first: unknown = Array.isArray(choices) ? choices[0] : undefined;
  const message = typeof first === "object" && first !== null ? (first as { message?: unknown }).message : undefined;
  const content = typeof message === "object" && message !== null ? (message as { content?: unknown }).content : undefined;
  return typeof content === "string" ? content : undefined;
}
