// The core's part of a call's record (protocol call-record.ts), read from the history as the caller
// heard it: what was said (tool messages left out), each tool the agent called with what came back,
// and the message the caller left (the last take_message call the core did not refuse). Pure:
// messages in, the part out.
//
// A tool result is read as the core writes it (call/tool-rounds.ts): `{"result": ...}` is a success
// and the result is that value; `{"error": "..."}` is a failure and the result is `{ error }`; any
// other content is a failure whose result is the content as text. A call with no result at all (the
// caller was gone before it answered, e.g. a transfer the caller never came back from) is listed with
// ok false and result null: the edge's record says how a transfer went.
import type { CoreRecordPart } from "@voice/protocol";
import type { ChatMessage } from "../llm/types.js";

/** The part without what the summary adds (summary, outcome, summaryError). */
export type RecordPartBody = Omit<CoreRecordPart, "summary" | "outcome" | "summaryError">;
export type RecordUtterance = RecordPartBody["conversation"][number];
export type RecordTool = RecordPartBody["tools"][number];
export type RecordCallback = NonNullable<RecordPartBody["callback"]>;

/** The built-in tool whose arguments are the caller's message for a call back. */
export const TAKE_MESSAGE_TOOL = "take_message";

// The bounds of protocol's coreRecordPart: a part over them would be refused by the edge whole.
export const MAX_UTTERANCES = 400;
export const MAX_TOOLS = 100;
const MAX_TEXT_CHARS = 4000;
const MAX_TOOL_NAME_CHARS = 64;
const MAX_NAME_CHARS = 200;
const MAX_PHONE_CHARS = 40;
const MAX_REASON_CHARS = 1000;
const MAX_END_REASON_CHARS = 40;

export function recordPart(callSid: string, endReason: string, history: readonly ChatMessage[]): RecordPartBody {
  const conversation: RecordUtterance[] = [];
  const tools: RecordTool[] = [];
  const results = new Map<string, string>();
  for (const message of history) if (message.role === "tool") results.set(message.toolCallId, message.content);
  let callback: RecordCallback | null = null;
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
  // The latest is kept when over the bound: how the call ended matters more than how it began.
  return {
    callSid,
    conversation: conversation.slice(-MAX_UTTERANCES),
    tools: tools.slice(-MAX_TOOLS),
    callback,
    endReason: clip(endReason, MAX_END_REASON_CHARS),
  };
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
function callbackOf(args: unknown): RecordCallback | undefined {
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

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
