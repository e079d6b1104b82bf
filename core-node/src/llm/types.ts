// The language model as the call session sees it: messages in, streamed text out.

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface ChatStreamOptions {
  /** Aborting stops the request. */
  signal: AbortSignal;
  /** Sent as the call id header, so a request can be traced to its call. */
  callId: string;
}

export interface ChatModel {
  /** Streams the answer's text as it is generated. */
  stream(messages: readonly ChatMessage[], options: ChatStreamOptions): AsyncIterable<string>;
  /** One tiny request, so the first call finds the connection open and the key/model proven. */
  warmup(): Promise<void>;
}
