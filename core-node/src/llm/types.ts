// The language model as the call session sees it: messages in, streamed text out.

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface ChatModel {
  /** Streams the answer's text as it is generated; aborting `signal` stops the request. */
  stream(messages: readonly ChatMessage[], signal: AbortSignal): AsyncIterable<string>;
  /** One tiny request, so the first call finds the connection open and the key/model proven. */
  warmup(): Promise<void>;
}
