// The language model as the call session sees it: messages in, streamed events out (text as it is
// written, and the tools the model wants called, each once its arguments are complete).

/** A tool call the model asked for: its id (the model's), the tool, and its arguments as JSON text. */
export interface ToolCallRequest {
  id: string;
  name: string;
  arguments: string;
}

export type ChatMessage =
  | { role: "system" | "user"; content: string }
  /** `toolCalls`: the tools the answer asked for after its text. */
  | { role: "assistant"; content: string; toolCalls?: ToolCallRequest[] }
  /** A tool's result (or failure) as the model reads it, answering the call `toolCallId`. */
  | { role: "tool"; content: string; toolCallId: string; name: string };

/** A tool the model may call: what it does and its JSON-schema parameters. */
export interface ToolDefinition {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export interface ChatStreamOptions {
  /** Aborting stops the request. */
  signal: AbortSignal;
  /** Sent as the call id header, so a request can be traced to its call. */
  callId: string;
  /** Tools offered for this request (none: text only). */
  tools?: readonly ToolDefinition[];
}

export type ChatEvent = { type: "text"; text: string } | { type: "toolCall"; call: ToolCallRequest };

export interface ChatModel {
  /** Streams the answer: text as it is generated, then any tool calls, each whole. */
  stream(messages: readonly ChatMessage[], options: ChatStreamOptions): AsyncIterable<ChatEvent>;
  /** One tiny request, so the first call finds the connection open and the key/model proven. */
  warmup(): Promise<void>;
}
