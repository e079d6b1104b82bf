// Streamed chat completions through the app's one OpenAI client (works with any
// OpenAI-compatible endpoint via OPENAI_BASE_URL). What the endpoint streams is checked chunk by
// chunk: an answer that is not a well-formed stream ends in LlmResponseError (the session retries
// or apologises, as for any failed request) rather than in a TypeError, or in words nobody meant.
import type OpenAI from "openai";
import { CALL_ID_HEADER } from "@voice/protocol";
import { ToolCallAssembler, type ToolCallDelta } from "./tool-calls.js";
import type { ChatMessage, ChatModel, ToolDefinition } from "./types.js";

/** The endpoint answered, but not with a usable stream. The message is one line and quotes none of the answer. */
export class LlmResponseError extends Error {
  override name = "LlmResponseError";
}

/**
 * An answer longer than this is cut off with LlmResponseError: two minutes of speech, far past any
 * answer on a phone, and each of its sentences would be a paid synthesis.
 */
export const DEFAULT_MAX_ANSWER_CHARS = 2000;

export interface OpenAiChatOptions {
  maxAnswerChars?: number;
}

export function createOpenAiChat(client: OpenAI, model: string, options: OpenAiChatOptions = {}): ChatModel {
  const maxAnswerChars = options.maxAnswerChars ?? DEFAULT_MAX_ANSWER_CHARS;
  return {
    async *stream(messages: readonly ChatMessage[], { signal, callId, tools }) {
      const request = { model, messages: messages.map(toOpenAiMessage), stream: true as const, ...(tools?.length ? { tools: tools.map(toOpenAiTool) } : {}) };
      const { data: stream, response } = await client.chat.completions.create(request, { signal, headers: { [CALL_ID_HEADER]: callId } }).withResponse();
      // A proxy's error page with status 200 would read as a stream with no events at all.
      const type = response.headers.get("content-type") ?? "";
      if (!type.startsWith("text/event-stream")) {
        stream.controller.abort();
        throw new LlmResponseError(`the answer is ${JSON.stringify(type.slice(0, 60))}, not an event stream`);
      }
      let chars = 0;
      let finished = false;
      const toolCalls = new ToolCallAssembler();
      try {
        for await (const chunk of stream) {
          const reading = readChunk(chunk);
          if (!reading.ok) throw new LlmResponseError(reading.reason);
          chars += reading.text.length;
          // Checked before anything is spoken of the chunk: one absurd chunk must not become a thousand sentences.
          if (chars > maxAnswerChars) throw new LlmResponseError(`the answer runs past ${maxAnswerChars} characters`);
          for (const delta of reading.toolCalls) {
            const problem = toolCalls.add(delta);
            if (problem) throw new LlmResponseError(problem);
          }
          finished ||= reading.finished;
          if (reading.text) yield { type: "text" as const, text: reading.text };
        }
      } catch (error) {
        // The SDK parses each event with JSON.parse; its SyntaxError would quote the endpoint's bytes.
        if (error instanceof SyntaxError) throw new LlmResponseError("a stream event is not JSON");
        throw error;
      }
      // The SDK ends quietly on an abort (ours) and on a stream that simply stops (theirs): only the
      // latter is a failure, and the answer it carried may be cut mid-sentence.
      if (!finished && !signal.aborted) throw new LlmResponseError("the stream ended before a finish_reason");
      if (toolCalls.size === 0 || signal.aborted) return;
      const whole = toolCalls.finish();
      if (!whole.ok) throw new LlmResponseError(whole.reason);
      for (const call of whole.calls) yield { type: "toolCall" as const, call };
    },
    async warmup() {
      await client.chat.completions.create({
        model,
        messages: [{ role: "user", content: "ping" }],
        max_completion_tokens: 1,
      });
    },
  };
}

/** What one streamed chunk says: text (may be empty) and whether it ends the answer, or why it is unusable. */
export type ChunkReading = { ok: true; text: string; toolCalls: ToolCallDelta[]; finished: boolean } | { ok: false; reason: string };

/** Reads a chat.completion.chunk as the endpoint sent it (the SDK does not check it); never throws. */
export function readChunk(chunk: unknown): ChunkReading {
  if (!isRecord(chunk)) return { ok: false, reason: "a chunk is not an object" };
  const { choices } = chunk;
  if (!Array.isArray(choices)) return { ok: false, reason: "a chunk has no choices list" };
  // The usage chunk (stream_options.include_usage) has an empty list.
  if (choices.length === 0) return { ok: true, text: "", toolCalls: [], finished: false };
  const choice: unknown = choices[0];
  if (!isRecord(choice)) return { ok: false, reason: "a chunk's choice is not an object" };
  const content = isRecord(choice.delta) ? choice.delta.content : undefined;
  if (content !== undefined && content !== null && typeof content !== "string") {
    return { ok: false, reason: `a chunk's content is ${Array.isArray(content) ? "a list" : typeof content}, not text` };
  }
  const toolCalls = readToolCallDeltas(isRecord(choice.delta) ? choice.delta.tool_calls : undefined);
  if (!Array.isArray(toolCalls)) return { ok: false, reason: toolCalls.reason };
  const finishReason = choice.finish_reason;
  return { ok: true, text: content ?? "", toolCalls, finished: finishReason !== undefined && finishReason !== null };
}

/** A chunk's `delta.tool_calls`, checked: each with a numeric index, string id/name/arguments where present. */
function readToolCallDeltas(value: unknown): ToolCallDelta[] | { reason: string } {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return { reason: "a chunk's tool_calls is not a list" };
  const deltas: ToolCallDelta[] = [];
  for (const item of value) {
    if (!isRecord(item) || typeof item.index !== "number" || !Number.isInteger(item.index) || item.index < 0) return { reason: "a tool call delta without an index" };
    const fn = isRecord(item.function) ? item.function : {};
    const pieces = [item.id, fn.name, fn.arguments];
    if (pieces.some((piece) => piece !== undefined && piece !== null && typeof piece !== "string")) return { reason: "a tool call delta with a field that is not text" };
    deltas.push({ index: item.index, id: (item.id as string | undefined) ?? undefined, name: (fn.name as string | undefined) ?? undefined, arguments: (fn.arguments as string | undefined) ?? undefined });
  }
  return deltas;
}

type OpenAiMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam;

/** Our history message as the chat API takes it. */
export function toOpenAiMessage(message: ChatMessage): OpenAiMessage {
  switch (message.role) {
    case "tool":
      return { role: "tool", tool_call_id: message.toolCallId, content: message.content };
    case "assistant":
      if (!message.toolCalls?.length) return { role: "assistant", content: message.content };
      return {
        role: "assistant",
        content: message.content || null,
        tool_calls: message.toolCalls.map((call) => ({ id: call.id, type: "function" as const, function: { name: call.name, arguments: call.arguments } })),
      };
    default:
      return { role: message.role, content: message.content };
  }
}

function toOpenAiTool(tool: ToolDefinition): OpenAI.Chat.Completions.ChatCompletionTool {
  return { type: "function", function: { name: tool.name, description: tool.description, parameters: tool.parameters } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
