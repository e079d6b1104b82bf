// POST /calls/record (CORE_RECORD_PATH): a core hands in its part of a call's record, with a core
// token for purpose "record" bound to the call (signed with CORE_SHARED_SECRET, or the previous one
// during a rotation). The part goes to the call's record desk. The body holds the caller's words: a
// refusal is logged with its reason only, never the body.
import { coreRecordPart, type CoreRecordPart } from "@voice/protocol/call-record";
import { verifyCoreToken } from "@voice/protocol/core-token";
import type { Context } from "hono";
import type { AppEnv } from "./env.js";
import { logEvent } from "./log.js";
import { mediaType, readCapped } from "./webhook-body.js";

/** A part is at most 400 utterances of 4000 characters in the worst case; a real one is a few KB. 256 KB bounds what a core may make us read. */
export const MAX_RECORD_PART_BYTES = 256 * 1024;

export type PartReading = { ok: true; part: CoreRecordPart } | { ok: false; reason: string };

/** The body as a core part, or one line saying what is wrong with it (paths and rules, never values). */
export function readCorePart(text: string): PartReading {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: "body is not JSON" };
  }
  const parsed = coreRecordPart.safeParse(json);
  if (parsed.success) return { ok: true, part: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? issue.path.join(".") : "body";
  return { ok: false, reason: `not a core record part: ${where}: ${issue?.message ?? "invalid"}`.slice(0, 300) };
}

export async function handleCoreRecordPart(c: Context<AppEnv>): Promise<Response> {
  const refuse = (status: 400 | 401 | 403 | 413 | 415, reason: string, callSid?: string) => {
    logEvent("WARNING", "core record part refused", { status, reason, call_id: callSid });
    return c.json({ ok: false, error: reason }, status);
  };
  const token = c.req.header("authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1];
  const check = await verifyCoreToken([c.env.CORE_SHARED_SECRET, c.env.CORE_SHARED_SECRET_PREVIOUS], "record", token, Date.now());
  // A valid token for another route is a known core asking for the wrong thing (403); anything else is no credential (401).
  if (!check.ok) return refuse(check.reason === "token not for record" ? 403 : 401, check.reason);
  if (mediaType(c.req.header("content-type")) !== "application/json") return refuse(415, "not application/json", check.callSid);
  const declared = Number(c.req.header("content-length") ?? 0);
  if (declared > MAX_RECORD_PART_BYTES) return refuse(413, "body too large (declared)", check.callSid);
  const body = await readCapped(c.req.raw.body, MAX_RECORD_PART_BYTES);
  if (!body.ok) return refuse(body.refusal.status === 415 ? 400 : body.refusal.status, body.refusal.reason, check.callSid);
  const reading = readCorePart(new TextDecoder().decode(body.bytes));
  if (!reading.ok) return refuse(400, reading.reason, check.callSid);
  if (reading.part.callSid !== check.callSid) return refuse(403, "the token is for another call", check.callSid);
  await c.env.RECORDS.get(c.env.RECORDS.idFromName(check.callSid)).noteCorePart(reading.part);
  logEvent("INFO", "core record part received", { call_id: check.callSid, end_reason: reading.part.endReason, ...(check.previousSecret ? { previous_secret: true } : {}) });
  return c.body(null, 204);
}
