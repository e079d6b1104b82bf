// The chat completion request and answer as OpenAI puts them on the wire: the request's fields the
// emulator reads (messages, with assistant tool_calls and role "tool" answers; tools; stream), the
// rules OpenAI enforces on a conversation with tool calls, and an answer (text, one tool call, or
// text then one tool call) as the first chunk, the pieces after it and the finish reason of a stream,
// or as one message.
//
// A streamed tool call, as OpenAI sends it (one `data:` event per line, ids and metadata shortened):
//   {"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_x","type":"function","function":{"name":"book","arguments":""}}],"refusal":null},"finish_reason":null}]}
//   {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"slot"}}]},"finish_reason":null}]}
//   {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\":\"20"}}]},"finish_reason":null}]}
//   ... the rest of the arguments, a few characters a chunk (always two chunks or more) ...
//   {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}
//   [DONE]
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { streamTokens } from "./chat-answers.js";
import type { PieceShapes } from "./chat-faults.js";
import { HUGE_ANSWER_CHARS } from "./chat-faults.js";
import { HttpError } from "./http-kit.js";

const MessageToolCall = z.looseObject({
  id: z.string().min(1),
  type: z.literal("function"),
  function: z.looseObject({ name: z.string().min(1), arguments: z.string() }),
});

const ChatMessage = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string(), text: z.string().optional() })), z.null()]).optional(),
  /** An assistant message: the tools it asked for. */
  tool_calls: z.array(MessageToolCall).nullish(),
  /** A "tool" message: the call it answers. */
  tool_call_id: z.string().nullish(),
});
export type ChatMessage = z.infer<typeof ChatMessage>;

const ToolDefinition = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'."),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
});

const ChatRequest = z.looseObject({
  model: z.string().min(1),
  messages: z.array(ChatMessage).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  /** OpenAI refuses an empty list: a request without tools leaves the field out. */
  tools: z.array(ToolDefinition).min(1, "empty array. Expected an array with minimum length 1, but got an empty array instead.").nullish(),
});
export type ChatRequest = z.infer<typeof ChatRequest>;

/** The request, checked as OpenAI checks it; an OpenAI-shaped 400 otherwise. */
export function parseChatRequest(json: unknown): ChatRequest {
  const parsed = ChatRequest.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new HttpError(400, `Invalid '${issue.path.join(".") || "body"}': ${issue.message}`, "invalid_value");
  }
  const problem = toolMessagesProblem(parsed.data.messages);
  if (problem) throw new HttpError(400, problem, problem.startsWith("Missing") ? "missing_required_parameter" : null);
  return parsed.data;
}

/**
 * OpenAI's rules for tool calls in a conversation, in its words: every "tool" message names the call
 * it answers and follows the assistant message that asked for it (or another answer to that message),
 * and every call an assistant message asked for is answered before anything else is said.
 */
export function toolMessagesProblem(messages: readonly ChatMessage[]): string | undefined {
  /** The calls of the latest assistant message with tool_calls not yet answered, while only answers follow it. */
  let awaiting: Set<string> | undefined;
  const unanswered = () =>
    awaiting && awaiting.size > 0
      ? `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...awaiting].join(", ")}`
      : undefined;
  for (const message of messages) {
    if (message.role === "tool") {
      if (!message.tool_call_id) return "Missing parameter 'tool_call_id': messages with role 'tool' must have a 'tool_call_id'.";
      if (!awaiting?.delete(message.tool_call_id)) {
        return "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.";
      }
      continue;
    }
    const problem = unanswered();
    if (problem) return problem;
    awaiting = message.role === "assistant" && message.tool_calls?.length ? new Set(message.tool_calls.map((call) => call.id)) : undefined;
  }
  return unanswered();
}

/** The tool names a request offers, in its order. */
export function offeredTools(request: ChatRequest): string[] {
  return (request.tools ?? []).map((tool) => tool.function.name);
}

/** A message's text: the string content, or its text parts joined. */
export function textOf(message: ChatMessage): string {
  const content = message.content;
  if (typeof content === "string") return content;
  return (content ?? []).map((part) => part.text ?? "").join(" ");
}

/** A tool call the emulator answers with: the id it made up, the tool, and the arguments as JSON text. */
export interface EmittedToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** What the emulator answers: text, or one tool call (after `text`, when given: a model's "goodbye" and end_call). */
export type Reply = { kind: "text"; text: string } | { kind: "toolCall"; call: EmittedToolCall; text?: string };

/** A tool call id in OpenAI's form: "call_" and 24 letters and digits. */
export function newToolCallId(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return `call_${[...randomBytes(24)].map((byte) => alphabet[byte % alphabet.length]).join("")}`;
}

/** An answer on the wire. */
export interface ReplyWire {
  /** The delta of a stream's first chunk (the role; a tool call's id and name). */
  head: object;
  /** The deltas after it, one a chunk: content tokens, or pieces of a tool call's arguments. */
  pieces: object[];
  finishReason: "stop" | "tool_calls";
  /** How the malformed shapes break a piece of this answer. */
  shapes: PieceShapes;
  /** The whole answer as the `message` of a non-streamed completion. */
  message: object;
}

export function replyWire(reply: Reply): ReplyWire {
  if (reply.kind === "text") {
    const text = reply.text;
    return {
      head: { role: "assistant", content: "", refusal: null },
      pieces: streamTokens(text).map((content) => ({ content })),
      finishReason: "stop",
      shapes: {
        asParts: (piece) => ({ content: [{ type: "text", text: (piece as { content: string }).content }] }),
        huge: () => ({ content: text.repeat(Math.ceil(HUGE_ANSWER_CHARS / text.length)).slice(0, HUGE_ANSWER_CHARS) }),
      },
      message: { role: "assistant", content: text, refusal: null },
    };
  }
  const { id, name, arguments: args } = reply.call;
  const text = reply.text ?? "";
  const argumentsDelta = (text: unknown) => ({ tool_calls: [{ index: 0, function: { arguments: text } }] });
  const callHead = { tool_calls: [{ index: 0, id, type: "function", function: { name, arguments: "" } }] };
  // With words first, the call's id and name come in a chunk of their own after the words, as OpenAI sends them.
  const textPieces = streamTokens(text).map((content) => ({ content }));
  return {
    head: text ? { role: "assistant", content: "", refusal: null } : { role: "assistant", content: null, ...callHead, refusal: null },
    pieces: [...textPieces, ...(text ? [callHead] : []), ...argumentPieces(args).map(argumentsDelta)],
    finishReason: "tool_calls",
    shapes: {
      asParts: (piece) =>
        "content" in piece
          ? { content: [{ type: "text", text: (piece as { content: string }).content }] }
          : "tool_calls" in piece && (piece as typeof callHead).tool_calls[0]!.id === undefined
            ? argumentsDelta([{ type: "text", text: (piece as ReturnType<typeof argumentsDelta>).tool_calls[0]!.function.arguments }])
            : piece,
      huge: () => argumentsDelta(args.repeat(Math.ceil(HUGE_ANSWER_CHARS / args.length)).slice(0, HUGE_ANSWER_CHARS)),
    },
    message: { role: "assistant", content: text || null, tool_calls: [{ id, type: "function", function: { name, arguments: args } }], refusal: null },
  };
}

/** Arguments text in pieces of a few characters, as a model writes them: two or more (the emulator's
 *  arguments are JSON objects, so at least "{" and "}"). */
export function argumentPieces(text: string): string[] {
  const chars = [...text];
  if (chars.length < 2) return [text];
  const size = Math.min(6, Math.ceil(chars.length / 2));
  const pieces: string[] = [];
  for (let at = 0; at < chars.length; at += size) pieces.push(chars.slice(at, at + size).join(""));
  return pieces;
}
