// Streamed tool calls arrive in pieces: the first delta of a call carries its index, id and name,
// later ones more characters of its arguments. This assembles them (pure) and says what is wrong
// with a stream whose pieces do not add up to whole calls.
import type { ToolCallRequest } from "./types.js";

/** Calls in one answer, and the characters of their arguments, past which the answer is refused. */
export const MAX_TOOL_CALLS = 8;
export const MAX_TOOL_ARGUMENT_CHARS = 8000;

export type ToolCallDelta = { index: number; id?: string; name?: string; arguments?: string };

export class ToolCallAssembler {
  private readonly calls = new Map<number, { id: string; name: string; arguments: string }>();

  /** One delta; a reason when it cannot belong to a well-formed stream. */
  add(delta: ToolCallDelta): string | undefined {
    let call = this.calls.get(delta.index);
    if (!call) {
      if (this.calls.size >= MAX_TOOL_CALLS) return `more than ${MAX_TOOL_CALLS} tool calls in one answer`;
      call = { id: "", name: "", arguments: "" };
      this.calls.set(delta.index, call);
    }
    if (delta.id) call.id = delta.id;
    if (delta.name) call.name += delta.name;
    if (delta.arguments) call.arguments += delta.arguments;
    if (call.arguments.length > MAX_TOOL_ARGUMENT_CHARS) return `tool call arguments run past ${MAX_TOOL_ARGUMENT_CHARS} characters`;
    return undefined;
  }

  get size(): number {
    return this.calls.size;
  }

  /** The calls, in index order, or why they are not whole. */
  finish(): { ok: true; calls: ToolCallRequest[] } | { ok: false; reason: string } {
    const calls = [...this.calls.entries()].sort(([a], [b]) => a - b).map(([, call]) => call);
    for (const call of calls) {
      if (!call.id || !call.name) return { ok: false, reason: "a tool call without an id or a name" };
    }
    return { ok: true, calls: calls.map((call) => ({ ...call, arguments: call.arguments || "{}" })) };
  }
}
