// The words of a call's record (call-record.ts), read from a conversation as the caller heard it: what
// was said (tool messages left out), each tool the agent called with what came back, and the message
// the caller left (the last take_message call not refused). The core reads its own history this way
// for its part; the edge reads the last conversation state the same way when the core was lost. Pure.
//
// A tool result is read as the core writes it: `{"result": ...}` is a success and the result is that
// value; `{"error": "..."}` is a failure and the result is `{ error }`; any other content is a failure
// whose result is the content as text. A call with no result at all (the caller was gone before it
// answered, e.g. a transfer the caller never came back from) is listed with ok false and result null.
import type { CallRecord } from "./call-record.js";

/** The built-in tool whose arguments are the caller's message for a call back. */
export const TAKE_MESSAGE_TOOL = "take_message";

// The bounds of coreRecordPart: words over them would be refused whole.
export const MAX_RECORD_UTTERANCES = 400;
export const MAX_RECORD_TOOLS = 100;
const MAX_TEXT_CHARS = 4000;
const MAX_TOOL_NAME_CHARS = 64;
const MAX_NAME_CHARS = 200;
const MAX_PHONE_CHARS = 40;
const MAX_REASON_CHARS = 1000;

/** A conversation message as both sides hold it (the core's history, the edge's core.state). */
export type RecordedMessage =
  | { role: "system" | "user"; content: string }
  | { role: "assistant"; content: string; toolCalls?: readonly { id: string; name: string; arguments: string }[] }
  | { role: "tool"; content: string; toolCallId: string };

export type RecordWords = Pick<CallRecord, "conversation" | "tools" | "callback">;

export function recordWords(history: readonly RecordedMessage[]): RecordWords {
  const conversation: CallRecord["conversation"] = [];
  const tools: CallRecord["tools"] = [];
  const results = new Map<string, string>();
  for (const message of history) if (message.role === "tool") results.set(message.toolCallId, message.content);
  let callback: CallRecord["callback"] = null;
  for (const message of history) {
    if (message.role === "user" && message.content.trim()) conversation.push({ speaker: "caller", text: clip(message.content.trim(), MAX_TEXT_CHARS) });
    if (message.role !== "assistant") continue;
    if (message.content.trim()) conversation.push({ speaker: "agent", text: clip(message.content.trim(), MAX_TEXT_CHARS) });
    for (const call of message.toolCalls ?? []) {
      const args = parseJson(call.arguments);
      const content = results.get(call.id);
      const outcome = toolResult(content);
      tools.push({ name: clip(call.name, MAX_TOOL_NAME_CHARS), arguments: args.ok ? args.value : call.arguments, ...outcome });
      // A refused take_message (bad arguments, not offered) took no message; one without a result yet did.
      if (call.name === TAKE_MESSAGE_TOOL && args.ok && (outcome.ok || content === undefined)) callback = callbackOf(args.value) ?? callback;
    }
  }
  // The latest are kept when over the bounds: how the call ended matters more than how it began.
  return { conversation: conversation.slice(-MAX_RECORD_UTTERANCES), tools: tools.slice(-MAX_RECORD_TOOLS), callback };
}

/** A tool message's content as ok and result (see the header); no content: ok false, result null. */
export function toolResult(content: string | undefined): { ok: boolean; result: unknown } {
  if (content === undefined) return { ok: false, result: null };
  const parsed = parseJson(content);
  if (parsed.ok && isRecord(parsed.value)) {
    if (typeof parsed.value.error === "string") return { ok: false, result: { error: parsed.value.error } };
    if ("result" in parsed.value) return { ok: true, result: parsed.value.result };
  }
  return { ok: false, result: content };
}

/** take_message's arguments as a call back; undefined when they are not an object. A missing reason is "" (the message still counts). */
function callbackOf(args: unknown): CallRecord["callback"] | undefined {
  if (!isRecord(args)) return undefined;
  const text = (value: unknown, max: number) => (typeof value === "string" && value.trim() ? clip(value.trim(), max) : null);
  return { name: text(args.name, MAX_NAME_CHARS), phone: text(args.phone, MAX_PHONE_CHARS), reason: text(args.reason, MAX_REASON_CHARS) ?? "" };
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** Cut to `max` characters, the last one an ellipsis. */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
