// A small client of a tool endpoint, signing each request exactly as the core does (sign.ts): for the
// booking service's tests, end-to-end tests, and anyone checking a tool service by hand.
import { randomUUID } from "node:crypto";
import { signToolRequest, type ToolCallInput } from "./sign.js";
import type { Appointment } from "./decide.js";

export interface ToolResponse {
  status: number;
  /** The parsed JSON body: `{ result }` on 200, `{ error }` otherwise. */
  body: unknown;
  /** The body as received, byte for byte. */
  text: string;
  headers: Headers;
}

export interface ToolClientOptions {
  /** TOOL_SIGNING_SECRET. */
  secret: string;
  /** The clock the request is signed with (default Date.now). */
  now?: () => number;
}

/** POSTs one signed tool call to `endpoint`. */
export async function callTool(endpoint: string, input: ToolCallInput, options: ToolClientOptions): Promise<ToolResponse> {
  const { headers, body } = signToolRequest(options.secret, input, (options.now ?? Date.now)());
  return send(endpoint, { method: "POST", headers, body });
}

async function send(url: string, init: RequestInit): Promise<ToolResponse> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, body, text, headers: response.headers };
}

/** The call a client's requests say they come from; a fresh CallSid when not given. */
export interface ClientCall {
  callSid?: string;
  from?: string;
  to?: string;
}

/** One tool call's id (with the CallSid, the idempotency key); a fresh one when not given. */
export interface CallOptions {
  toolCallId?: string;
}

/** The reference booking service's three tools and its appointments, by base URL. */
export function bookingClient(baseUrl: string, options: ToolClientOptions & { call?: ClientCall }) {
  const call = { callSid: `CA${randomUUID().replace(/-/g, "")}`, ...options.call };
  const tool = (name: string, args: Record<string, unknown>, opts: CallOptions = {}) =>
    callTool(`${baseUrl}/tools/${name}`, { tool: name, arguments: args, call, toolCallId: opts.toolCallId ?? `call_${randomUUID()}` }, options);
  return {
    call,
    findSlots: (args: { date?: string } = {}, opts?: CallOptions) => tool("find_slots", args, opts),
    book: (args: { slot: string; name: string; reason?: string }, opts?: CallOptions) => tool("book", args, opts),
    cancel: (args: { appointment_id: string }, opts?: CallOptions) => tool("cancel", args, opts),
    /** GET /appointments: the live bookings. */
    appointments: async () => (await send(`${baseUrl}/appointments`, { method: "GET" })).body as BookedAppointment[],
  };
}

/** An appointment as GET /appointments lists it. */
export type BookedAppointment = Appointment;
