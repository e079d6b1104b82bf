// The conversation a call sends to the LLM after the system prompt, bounded by an estimate of its
// tokens (HISTORY_MAX_TOKENS). When over budget the oldest exchanges go first: a caller's message
// together with the agent's answers to it (a lone leading agent message, e.g. the greeting, on its
// own). The latest message always stays; the system prompt is not part of the history at all.
//
// Token estimate: ceil(characters / 3) per message plus 4 for the message's framing. Real
// tokenizers give about 4 characters per token in English and 2-3 in Hebrew, so this errs on the
// side of sending a little less; it costs nothing on the hot path and needs no tokenizer.
import type { ChatMessage } from "./types.js";

const CHARS_PER_TOKEN = 3;
const TOKENS_PER_MESSAGE = 4;

export function estimateTokens(message: ChatMessage): number {
  return TOKENS_PER_MESSAGE + Math.ceil(message.content.length / CHARS_PER_TOKEN);
}

export class ConversationHistory {
  private entries: ChatMessage[] = [];

  get messages(): readonly ChatMessage[] {
    return this.entries;
  }

  /** Appends a message; the object returned is the entry itself, for a later `remove`. */
  add(role: "user" | "assistant", content: string): ChatMessage {
    return this.append({ role, content });
  }

  /** Appends `message` itself (a tool call or result too). */
  append(message: ChatMessage): ChatMessage {
    this.entries.push(message);
    return message;
  }

  /**
   * Puts `message` right after `anchor` and the tool results already after it (a tool's result
   * belongs next to the call, even when the caller spoke meanwhile); at the end if `anchor` is gone.
   */
  insertAfter(anchor: ChatMessage, message: ChatMessage): ChatMessage {
    let at = this.entries.indexOf(anchor);
    if (at < 0) return this.append(message);
    while (this.entries[at + 1]?.role === "tool") at++;
    this.entries.splice(at + 1, 0, message);
    return message;
  }

  /** Removes an entry if it is still there (the bound may have dropped it already). */
  remove(entry: ChatMessage): void {
    const at = this.entries.indexOf(entry);
    if (at >= 0) this.entries.splice(at, 1);
  }

  /** Removes `entry` and every entry after it (nothing if it is gone). */
  removeFrom(entry: ChatMessage): void {
    const at = this.entries.indexOf(entry);
    if (at >= 0) this.entries.splice(at);
  }

  /** Drops the oldest exchanges until the estimate fits `maxTokens`; returns how many messages went. */
  bound(maxTokens: number): number {
    let total = this.entries.reduce((sum, message) => sum + estimateTokens(message), 0);
    let drop = 0;
    while (total > maxTokens && drop < this.entries.length - 1) {
      // One exchange: the oldest message, and if it is the caller's, the agent's replies to it;
      // tool results always go with the call before them (the API refuses a result without its call).
      const first = this.entries[drop]!;
      total -= estimateTokens(first);
      drop++;
      const goesWith = (role: ChatMessage["role"]) => role === "tool" || (first.role === "user" && role === "assistant");
      while (drop < this.entries.length - 1 && goesWith(this.entries[drop]!.role)) {
        total -= estimateTokens(this.entries[drop]!);
        drop++;
      }
    }
    this.entries = this.entries.slice(drop);
    return drop;
  }
}
