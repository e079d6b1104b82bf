// Streamed chat completions through the app's one OpenAI client (works with any
// OpenAI-compatible endpoint via OPENAI_BASE_URL).
import type OpenAI from "openai";
import { CALL_ID_HEADER } from "@voice/protocol";
import type { ChatMessage, ChatModel } from "./types.js";

export function createOpenAiChat(client: OpenAI, model: string): ChatModel {
  return {
    async *stream(messages: readonly ChatMessage[], { signal, callId }) {
      const stream = await client.chat.completions.create(
        { model, messages: [...messages], stream: true },
        { signal, headers: { [CALL_ID_HEADER]: callId } },
      );
      for await (const chunk of stream) {
        const text = chunk.choices[0]?.delta?.content;
        if (text) yield text;
      }
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
