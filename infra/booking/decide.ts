// What the booking service decides, given what it read: whether a request is well formed, whether an
// idempotency key means "act" or "answer what was answered before", and what each tool does to the
// calendar. Pure: the shell (service.ts, store.ts) reads the database and the clock, runs the
// decision, and carries out its effect and reply in one transaction.
import { z } from "zod";
import { dayToSearch, freeSlots, isDate, isSlot, type LocalClock } from "./slots.js";

export const TOOL_NAMES = ["find_slots", "book", "cancel"] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

export function isToolName(name: string): name is ToolName {
  return (TOOL_NAMES as readonly string[]).includes(name);
}

/** An HTTP answer: 200 `{ result }`, or 4xx/5xx `{ error: "<one line>" }`. */
export interface Reply {
  status: number;
  body: { result: unknown } | { error: string };
}

export const ok = (result: unknown): Reply => ({ status: 200, body: { result } });
export const fail = (status: number, error: string): Reply => ({ status, body: { error } });

export interface Appointment {
  id: string;
  /** Local wall-clock time in Asia/Jerusalem, "YYYY-MM-DDTHH:MM". */
  slot: string;
  name: string;
  /** The caller's number, when the call carried it. */
  phone: string | null;
  reason: string | null;
  callSid: string;
  /** ISO 8601, UTC. */
  createdAt: string;
}

/** What the caller of the tool sees of an appointment. */
export function publicAppointment(appointment: Appointment): Pick<Appointment, "id" | "slot" | "name" | "phone" | "reason"> {
  const { id, slot, name, phone, reason } = appointment;
  return { id, slot, name, phone, reason };
}

// ---- the request envelope ---------------------------------------------------------------------

const envelopeSchema = z.object({
  tool: z.string().min(1),
  arguments: z.record(z.string(), z.unknown()),
  call: z.object({
    callSid: z.string().min(1).max(64),
    from: z.string().max(64).optional(),
    to: z.string().max(64).optional(),
  }),
  idempotencyKey: z.string().min(1).max(256),
});

export type ToolRequest = z.infer<typeof envelopeSchema> & { tool: ToolName };

function firstIssue(error: z.ZodError, prefix = ""): string {
  const issue = error.issues[0];
  if (!issue) return "invalid";
  const field = issue.path.map(String).join(".");
  return `${prefix}${field || "(body)"}: ${issue.message}`;
}

/** The signed body -> the request, or the 400 that says what is wrong with it. */
export function parseToolRequest(rawBody: string, pathTool: ToolName, headerKey: string | undefined): { ok: true; request: ToolRequest } | { ok: false; reply: Reply } {
  let data: unknown;
  try {
    data = JSON.parse(rawBody);
  } catch {
    return { ok: false, reply: fail(400, "body is not JSON") };
  }
  const parsed = envelopeSchema.safeParse(data);
  if (!parsed.success) return { ok: false, reply: fail(400, firstIssue(parsed.error)) };
  const envelope = parsed.data;
  if (envelope.tool !== pathTool) return { ok: false, reply: fail(400, `tool "${envelope.tool}" sent to the endpoint of "${pathTool}"`) };
  if (!headerKey) return { ok: false, reply: fail(400, "missing idempotency-key header") };
  if (headerKey !== envelope.idempotencyKey) return { ok: false, reply: fail(400, "idempotency-key header and body idempotencyKey differ") };
  return { ok: true, request: { ...envelope, tool: pathTool } };
}

// ---- idempotency ------------------------------------------------------------------------------

/** The first answer given under a key, as stored with it. */
export interface StoredReply {
  fingerprint: string;
  status: number;
  /** The body exactly as sent the first time. */
  body: string;
}

/** JSON with object keys sorted, so equal values give equal text whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** What makes two requests under one key "the same request": the tool, its arguments and the call. */
export function fingerprintOf(request: ToolRequest): string {
  return canonicalJson({ tool: request.tool, arguments: request.arguments, callSid: request.call.callSid });
}

export type KeyDecision = { kind: "act" } | { kind: "replay"; stored: StoredReply } | { kind: "refuse"; reply: Reply };

/**
 * A new key: act. A known key with the same request: answer the stored reply, act on nothing. A known
 * key with another request: refuse (a client bug; acting would break "never act twice").
 */
export function decideKey(stored: StoredReply | undefined, fingerprint: string): KeyDecision {
  if (!stored) return { kind: "act" };
  if (stored.fingerprint === fingerprint) return { kind: "replay", stored };
  return { kind: "refuse", reply: fail(422, "idempotency-key already used for a different request") };
}

// ---- the tools --------------------------------------------------------------------------------

const findSlotsArgs = z.object({ date: z.string().refine(isDate, "must be a date YYYY-MM-DD").optional() });

/** find_slots: the day to look at, or a 400. */
export function findSlotsDay(args: Record<string, unknown>, now: LocalClock): { ok: true; date: string } | { ok: false; reply: Reply } {
  const parsed = findSlotsArgs.safeParse(args);
  if (!parsed.success) return { ok: false, reply: fail(400, firstIssue(parsed.error, "arguments.")) };
  return { ok: true, date: dayToSearch(parsed.data.date, now) };
}

/** find_slots: the first free slots of the day, given the day's taken slots. */
export function findSlotsReply(date: string, taken: ReadonlySet<string>, now: LocalClock): Reply {
  return ok({ date, slots: freeSlots(date, taken, now) });
}

const bookArgs = z.object({
  slot: z.string(),
  name: z.string().trim().min(1, "must not be empty").max(100),
  reason: z.string().trim().max(500).optional(),
});

export type BookArgs = z.infer<typeof bookArgs>;

export function parseBook(args: Record<string, unknown>): { ok: true; args: BookArgs } | { ok: false; reply: Reply } {
  const parsed = bookArgs.safeParse(args);
  if (!parsed.success) return { ok: false, reply: fail(400, firstIssue(parsed.error, "arguments.")) };
  return { ok: true, args: parsed.data };
}

/** What the shell knows when it books: the new appointment's id and time, the call, the slot's state. */
export interface BookContext {
  id: string;
  createdAt: string;
  now: LocalClock;
  call: ToolRequest["call"];
  /** A live appointment already holds the slot. */
  taken: boolean;
}

export type BookDecision = { kind: "insert"; appointment: Appointment; reply: Reply } | { kind: "reply"; reply: Reply };

/** book: a free future slot is booked; a taken slot, a past one or a time that is not a slot is a 409. */
export function decideBook(args: BookArgs, context: BookContext): BookDecision {
  if (!isSlot(args.slot)) return { kind: "reply", reply: fail(409, `${args.slot} is not a slot (30-minute slots 09:00-16:30, Sunday to Thursday)`) };
  if (args.slot <= context.now.stamp) return { kind: "reply", reply: fail(409, `${args.slot} has already begun`) };
  if (context.taken) return { kind: "reply", reply: fail(409, `${args.slot} is already taken`) };
  const appointment: Appointment = {
    id: context.id,
    slot: args.slot,
    name: args.name,
    phone: context.call.from ?? null,
    reason: args.reason || null,
    callSid: context.call.callSid,
    createdAt: context.createdAt,
  };
  return { kind: "insert", appointment, reply: ok({ appointment: publicAppointment(appointment) }) };
}

const cancelArgs = z.object({ appointment_id: z.string().min(1).max(64) });

export function parseCancel(args: Record<string, unknown>): { ok: true; id: string } | { ok: false; reply: Reply } {
  const parsed = cancelArgs.safeParse(args);
  if (!parsed.success) return { ok: false, reply: fail(400, firstIssue(parsed.error, "arguments.")) };
  return { ok: true, id: parsed.data.appointment_id };
}

export type CancelDecision = { kind: "cancel"; id: string; reply: Reply } | { kind: "reply"; reply: Reply };

/**
 * cancel: a live appointment is cancelled (its slot is free again); anything else is a 404. An
 * appointment booked from a known number is cancelled only from that number (or a call whose number
 * is unknown): to anyone else it does not exist, so a guessed id cancels nothing.
 */
export function decideCancel(id: string, live: Appointment | undefined, call: ToolRequest["call"]): CancelDecision {
  const othersBooking = live?.phone != null && call.from !== undefined && call.from !== live.phone;
  if (!live || othersBooking) return { kind: "reply", reply: fail(404, `no appointment ${id}`) };
  return { kind: "cancel", id, reply: ok({ cancelled: true, appointment_id: id }) };
}

/** A new appointment id: six digits, easy to say on the phone (the shell draws until one is unused). */
export function appointmentId(random: number): string {
  return String(100_000 + Math.floor(random * 900_000));
}
