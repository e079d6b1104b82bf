// What Twilio asks once a call's media stream ends (<Connect action>: POST /twilio/stream-ended) or
// a transfer's dial ends (<Dial action>: POST /twilio/dial-ended), and the whisper a staff member
// hears on answering a transfer (<Number url>: POST /twilio/whisper). Each may land on any isolate:
// the call's ledger decides (call-course.ts), these handlers only check the request, ask, and write
// the TwiML. A call the ledger cannot answer for gets the human fallback: a person is the safe answer.
import type { Context } from "hono";
import { SID_PATTERNS } from "@voice/protocol/stream-token";
import type { Direction } from "./call-course.js";
import type { CourseAnswer } from "./call-ledger.js";
import { controlSettings } from "./call-settings.js";
import type { AppEnv, Env } from "./env.js";
import { errorText, logEvent } from "./log.js";
import { DIAL_ENDED_PATH, STREAM_ENDED_PATH, WHISPER_CALL_QUERY, controlUrl, whisperUrl } from "./signature.js";
import { logged, readCallForm, twimlResponse } from "./twilio-form.js";
import { streamTwiml } from "./twilio-webhook.js";
import { dialStaffTwiml, fallbackTwiml, hangupTwiml, sayTwiml } from "./twiml.js";

/** What the staff member hears before the caller is put through; the agent's reason follows when it gave one. */
export const WHISPER_TEXT = "שיחה מועברת מהמזכירה הדיגיטלית.";
export const WHISPER_REASON_PREFIX = "הסיבה:";

export async function handleStreamEnded(c: Context<AppEnv>): Promise<Response> {
  const check = await readCallForm(c, controlUrl(c.env.PUBLIC_URL, STREAM_ENDED_PATH), "stream-ended action");
  if (!check.ok) return check.response;
  const { params, callSid } = check.form;
  const { staffNumber } = controlSettings(c.env);
  const callStatus = params.CallStatus;
  const answer = await askLedger(c, callSid, "stream-ended action", (ledger) =>
    ledger.advance({ type: "stream ended", at: Date.now(), callStatus, staffNumber }),
  );
  return direct(c, callSid, params, answer, { callStatus });
}

export async function handleDialEnded(c: Context<AppEnv>): Promise<Response> {
  const check = await readCallForm(c, controlUrl(c.env.PUBLIC_URL, DIAL_ENDED_PATH), "dial-ended action");
  if (!check.ok) return check.response;
  const { params, callSid } = check.form;
  const { DialCallStatus: dialStatus, CallStatus: callStatus } = params;
  const answer = await askLedger(c, callSid, "dial-ended action", (ledger) =>
    ledger.advance({ type: "dial ended", at: Date.now(), dialStatus, callStatus }),
  );
  return direct(c, callSid, params, answer, { dialStatus: logged(dialStatus), callStatus });
}

/**
 * The staff member answered: the whisper names the call's reason. The request is about the staff
 * member's leg (its own CallSid); the transferred call is the one the whisper URL names, which the
 * signature covers, and must agree with ParentCallSid when Twilio sends that.
 */
export async function handleWhisper(c: Context<AppEnv>): Promise<Response> {
  const parentSid = c.req.query(WHISPER_CALL_QUERY) ?? "";
  if (!SID_PATTERNS.call.test(parentSid)) {
    logEvent("WARNING", "whisper rejected", { reason: "no transferred call in the URL", callSid: logged(parentSid) });
    return c.body(null, 403);
  }
  const check = await readCallForm(c, whisperUrl(c.env.PUBLIC_URL, parentSid), "whisper");
  if (!check.ok) return check.response;
  const { ParentCallSid: named } = check.form.params;
  if (named !== undefined && named !== parentSid) {
    logEvent("WARNING", "whisper rejected", { reason: "ParentCallSid is another call", callSid: parentSid });
    return c.body(null, 403);
  }
  let reason: string | null = null;
  try {
    reason = await ledgerOf(c.env, parentSid).whisper();
  } catch (error) {
    // The staff member still hears that a transfer comes; only its reason is missing.
    logEvent("ERROR", "whisper: the call's ledger did not answer", { callSid: parentSid, error: errorText(error) });
  }
  logEvent("INFO", "whisper", { callSid: parentSid, withReason: reason !== null });
  const text = reason ? `${WHISPER_TEXT} ${WHISPER_REASON_PREFIX} ${reason}` : WHISPER_TEXT;
  return twimlResponse(c, sayTwiml(c.env.LANGUAGE, text));
}

function ledgerOf(env: Env, callSid: string) {
  return env.CALLS.get(env.CALLS.idFromName(callSid));
}

/** The ledger's answer, or the human fallback when it cannot give one. */
async function askLedger(
  c: Context<AppEnv>,
  callSid: string,
  route: string,
  ask: (ledger: ReturnType<typeof ledgerOf>) => Promise<CourseAnswer>,
): Promise<CourseAnswer> {
  try {
    return await ask(ledgerOf(c.env, callSid));
  } catch (error) {
    logEvent("ERROR", `${route}: the call's ledger did not answer, the caller gets the fallback`, { callSid, error: errorText(error) });
    return { direction: { kind: "fallback" } };
  }
}

/** Tells the record desk when the call is over, and Twilio what next. */
async function direct(
  c: Context<AppEnv>,
  callSid: string,
  params: Record<string, string>,
  answer: CourseAnswer,
  fields: Record<string, unknown>,
): Promise<Response> {
  const direction: Direction = answer.direction ?? { kind: "fallback" };
  if (answer.notice) logEvent("WARNING", answer.notice, { callSid });
  if (answer.ended) {
    const ending = answer.ended;
    const desk = c.env.RECORDS.get(c.env.RECORDS.idFromName(callSid));
    c.executionCtx.waitUntil(
      desk.noteEnd(ending).catch((error: unknown) => logEvent("ERROR", "record desk: the call's end not noted", { callSid, error: errorText(error) })),
    );
  }
  logEvent("INFO", "call directed", { callSid, direction: direction.kind, ...fields, ...(answer.ended ? { endReason: answer.ended.endReason } : {}) });
  return twimlResponse(c, await twimlFor(c.env, callSid, params, direction));
}

async function twimlFor(env: Env, callSid: string, params: Record<string, string>, direction: Direction): Promise<string> {
  const settings = controlSettings(env);
  switch (direction.kind) {
    case "hang up":
      return hangupTwiml();
    case "fallback":
      return fallbackTwiml(env.LANGUAGE, settings.fallbackText, settings.fallbackNumber);
    case "dial staff":
      return dialStaffTwiml({
        staffNumber: direction.to,
        timeoutS: settings.transferTimeoutS,
        callerId: params.From,
        actionUrl: controlUrl(env.PUBLIC_URL, DIAL_ENDED_PATH),
        whisperUrl: whisperUrl(env.PUBLIC_URL, callSid),
      });
    case "reconnect":
      return streamTwiml(env, params);
  }
}
