// The tools the core runs itself, never over HTTP: the agent hangs up (end_call), puts the caller
// through to the staff (transfer_to_staff), or takes a message (take_message). Pure: what is offered
// on a request, and what one call of them comes to. The shell (tool-rounds.ts) records the calls and
// their results like any tool's; the session plays the last words and sends `core.end`.
//
// end_call and transfer_to_staff end the core's part of the call: their call stays in the history
// without a result. A core that takes the call over (the link was lost before `core.end`) makes them
// again (handover.ts); a caller back from a transfer nobody took gets the transfer's result then
// (`transferReturned`), and the model goes on from there.
import type { CoreEnd, TransferReturn } from "@voice/protocol";
import type { ChatMessage, ToolCallRequest, ToolDefinition } from "../llm/types.js";
import { BUILT_IN_TOOLS } from "../tools/agent-schema.js";

/** What the whisper to the staff may carry of the agent's reason (protocol call-control.ts). */
export const MAX_TRANSFER_REASON_CHARS = 200;

const END_CALL: ToolDefinition = {
  name: BUILT_IN_TOOLS.endCall,
  description:
    "Ends the phone call. Call it when the conversation is over (the caller said goodbye, or has nothing more), in the same answer as a short goodbye; the call ends once the caller heard your words.",
  parameters: { type: "object", properties: {}, required: [] },
};

const TRANSFER_TO_STAFF: ToolDefinition = {
  name: BUILT_IN_TOOLS.transfer,
  description:
    "Puts the caller through to a person on the clinic's staff. Call it when the caller asks for a person, or needs what you cannot do. The caller hears that they are being transferred; if nobody answers, they come back to you.",
  parameters: {
    type: "object",
    properties: { reason: { type: "string", description: "a few words for the staff member on what the caller needs" } },
    required: ["reason"],
  },
};

const TAKE_MESSAGE: ToolDefinition = {
  name: BUILT_IN_TOOLS.takeMessage,
  description: "Takes a message for the clinic's staff, who read it after the call. Use the caller's own words; never add what they did not say.",
  parameters: {
    type: "object",
    properties: {
      reason: { type: "string", description: "the message, in the caller's words" },
      name: { type: "string", description: "the caller's name, only if they said it" },
      phone: { type: "string", description: "a number to call back, only if the caller gave one" },
    },
    required: ["reason"],
  },
};

/** What a call can do right now besides the agent file's tools. */
export interface ControlAvailability {
  /** The agent file has a `transfer` section and now is within its hours. */
  transfer: boolean;
  /** The call's record goes somewhere (the edge gave a record URL): a message taken reaches the staff. */
  messages: boolean;
}

/** The built-in tools offered on a request: end_call always, the others when they can be done. */
export function controlDefinitions(available: ControlAvailability): ToolDefinition[] {
  return [END_CALL, ...(available.transfer ? [TRANSFER_TO_STAFF] : []), ...(available.messages ? [TAKE_MESSAGE] : [])];
}

export function isControlTool(name: string): boolean {
  return name === BUILT_IN_TOOLS.endCall || name === BUILT_IN_TOOLS.transfer || name === BUILT_IN_TOOLS.takeMessage;
}

/**
 * What one built-in call comes to: the end of the core's part of the call (`core.end` once the answer
 * played; no result goes into the history), or a result for the model (`ok: false`: a refusal it
 * reads, in the same `{"error": ...}` form as a failed business tool's).
 */
export type ControlOutcome = { kind: "end"; end: CoreEnd } | { kind: "result"; ok: true; content: string } | { kind: "result"; ok: false; error: string; content: string };

function refused(error: string): ControlOutcome {
  return { kind: "result", ok: false, error, content: JSON.stringify({ error }) };
}

export function controlCall(call: ToolCallRequest, available: ControlAvailability): ControlOutcome {
  let args: unknown;
  try {
    args = JSON.parse(call.arguments || "{}");
  } catch {
    return refused("the arguments are not JSON");
  }
  const given = typeof args === "object" && args !== null && !Array.isArray(args) ? (args as Record<string, unknown>) : {};
  switch (call.name) {
    case BUILT_IN_TOOLS.endCall:
      return { kind: "end", end: { event: "core.end", reason: "agent" } };
    case BUILT_IN_TOOLS.transfer: {
      if (!available.transfer) return refused("transfer_to_staff is not available now (no transfers, or outside the staff's hours)");
      const reason = typeof given.reason === "string" ? given.reason.trim().slice(0, MAX_TRANSFER_REASON_CHARS).trim() : "";
      return { kind: "end", end: { event: "core.end", reason: "transfer", ...(reason !== "" && { transferReason: reason }) } };
    }
    case BUILT_IN_TOOLS.takeMessage: {
      if (!available.messages) return refused("take_message is not available on this call");
      if (typeof given.reason !== "string" || given.reason.trim() === "") return refused("reason is required: the message, in the caller's words");
      return { kind: "result", ok: true, content: JSON.stringify({ result: { taken: true } }) };
    }
    default:
      return refused(`there is no tool named ${call.name}`);
  }
}

/** The result a transfer nobody took gets, once the caller is back (edge.resume `transfer`). */
export function transferReturnResult(returned: TransferReturn): string {
  return JSON.stringify({ result: { transferred: false, outcome: returned.outcome } });
}

/** The latest transfer_to_staff call without a result, and the assistant message that holds it. */
export function pendingTransfer(history: readonly ChatMessage[]): { entry: ChatMessage; call: ToolCallRequest } | undefined {
  const answered = new Set(history.flatMap((message) => (message.role === "tool" ? [message.toolCallId] : [])));
  for (let i = history.length - 1; i >= 0; i--) {
    const entry = history[i]!;
    if (entry.role !== "assistant") continue;
    const call = entry.toolCalls?.findLast((candidate) => candidate.name === BUILT_IN_TOOLS.transfer && !answered.has(candidate.id));
    if (call) return { entry, call };
  }
  return undefined;
}
