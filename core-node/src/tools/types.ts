// Tools the agent may call during a call: what the agent file declares (agent-file.ts validates it at
// start), and the one port the tool-calling loop uses to run a tool (http-caller.ts is the real one).
// The wire format of a tool request is the tool contract's (sign.ts builds it).
import type { TransferSettings } from "./business-hours.js";

/** One tool of the agent file: offered to the model as a function, run as a signed POST to `endpoint`. */
export interface ToolSpec {
  /** `^[a-zA-Z0-9_-]{1,64}$`, unique in the file: the function name the model calls. */
  name: string;
  /** What the tool does, for the model. */
  description: string;
  /** JSON schema of the arguments (`type: "object"`), kept exactly as the file gives it. */
  parameters: Record<string, unknown>;
  /** `https://...`, or `http://` to a loopback host only. */
  endpoint: string;
  /** Whether the tool changes something (a booking). A side-effecting tool is never retried by the core. */
  sideEffects: boolean;
  /** The most the core waits for this tool, all attempts included (100..30000). */
  timeoutMs: number;
}

/** The agent file (AGENT_FILE): the system prompt, the business facts, the tools. */
export interface AgentFile {
  prompt: string;
  facts?: string;
  tools: ToolSpec[];
  /** Transfers to the staff and their hours (absent: the agent never offers one). */
  transfer?: TransferSettings;
}

/** Who asks for a tool call: the call, the model's id for the call, and the abort of the turn. */
export interface ToolCallContext {
  callSid: string;
  /** The caller's number, when known. */
  from?: string;
  /** The number called, when known. */
  to?: string;
  /** The model's id of this tool call; with callSid it makes the idempotency key. */
  toolCallId: string;
  /** Aborted when the turn is (barge-in, hang-up, drain): the request is abandoned, never retried. */
  signal: AbortSignal;
}

/**
 * What became of one tool call. `ms`: from the call to the outcome (all attempts); `attempts`:
 * requests sent (0 when the signal was already aborted). A failure's `error` is one line, fit to be
 * shown to the model; `timedOut`: the tool's timeoutMs ran out.
 */
export type ToolOutcome =
  | { ok: true; result: unknown; ms: number; attempts: number }
  | { ok: false; error: string; ms: number; attempts: number; timedOut: boolean };

/** Runs one tool call. Never rejects: every failure is an outcome. */
export interface ToolCaller {
  call(tool: ToolSpec, args: unknown, context: ToolCallContext): Promise<ToolOutcome>;
}
