// One simulated phone call against the edge, as Twilio places it, with a caller who follows a script:
// listen to the greeting, then for each line pause, speak, and wait for the answer to finish.
import { FRAME_MS } from "@voice/protocol";
import { callerLineFrames } from "./caller-audio.js";
import type { StreamIds } from "./frames.js";
import { CallRecorder } from "./recording.js";
import { ErrorLog, type CallReport } from "./report.js";
import type { CallerScript } from "./script.js";
import { MediaStreamSession } from "./session.js";
import { newSid, openMediaStream, requestStreamTwiml } from "./twilio-client.js";

export interface CallOptions {
  /** The edge's base URL, e.g. http://127.0.0.1:8787. */
  url: string;
  /** Twilio auth token the edge checks signatures with. */
  authToken: string;
  script: CallerScript;
  /** How long to wait for the greeting to finish, and for each answer to finish (default 15000). */
  timeoutMs?: number;
  /** Silence before each line, as a person takes a breath (default 400). */
  pauseMs?: number;
  /** eSpeak pitch of the caller's voice (default 70). */
  callerPitch?: number;
  /** Caller and called numbers in the webhook. */
  from?: string;
  to?: string;
  /** Progress lines while the call runs. */
  log?: (line: string) => void;
}

export const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_PAUSE_MS = 400;
const DEFAULT_CALLER_PITCH = 70;
/** Bounds the webhook request and the WebSocket handshake. */
const SETUP_TIMEOUT_MS = 10_000;

/** Places the call; never rejects: what went wrong is in report.errors. */
export async function runCall(options: CallOptions): Promise<CallReport> {
  const log = options.log ?? (() => {});
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const errors = new ErrorLog();
  const ids: StreamIds = { accountSid: newSid("AC"), callSid: newSid("CA"), streamSid: newSid("MZ") };

  let session: MediaStreamSession;
  let speech: Uint8Array[][];
  try {
    speech = await synthesizeLines(options);
    const twiml = await requestStreamTwiml(options.url, options.authToken, webhookParams(ids, options), SETUP_TIMEOUT_MS);
    log(`call ${ids.callSid}: streaming to ${twiml.streamUrl}`);
    const socket = await openMediaStream(twiml.streamUrl, options.authToken, SETUP_TIMEOUT_MS);
    session = new MediaStreamSession(socket, ids, twiml.parameters, errors);
  } catch (error) {
    errors.add((error as Error).message);
    return emptyReport(ids, errors);
  }

  session.begin();
  const greeting = await session.until(() => session.greetingFinished, timeoutMs);
  if (greeting === "timeout") errors.add(`greeting did not finish within ${timeoutMs} ms`);
  else if (greeting === "done") log("greeting heard");

  const pauseTicks = Math.round((options.pauseMs ?? DEFAULT_PAUSE_MS) / FRAME_MS);
  for (const [index, text] of options.script.lines.entries()) {
    if ((await session.waitTicks(pauseTicks)) === "closed") break;
    log(`turn ${index + 1}: caller says: ${text}`);
    if ((await session.speak(text, speech[index]!)) === "closed") break;
    const answer = await session.until(() => session.answerFinished, timeoutMs);
    if (answer === "closed") break;
    if (answer === "timeout") errors.add(`no answer to turn ${index + 1} (waited ${timeoutMs} ms)`);
    else log(`turn ${index + 1}: answer heard`);
  }

  await session.hangUp();
  return session.report();
}

/** Up front, so that no eSpeak work competes with the 20 ms clock during the call. */
async function synthesizeLines(options: CallOptions): Promise<Uint8Array[][]> {
  const voice = { voice: options.script.voice, pitch: options.callerPitch ?? DEFAULT_CALLER_PITCH };
  const speech: Uint8Array[][] = [];
  for (const text of options.script.lines) speech.push(await callerLineFrames(text, voice));
  return speech;
}

function webhookParams(ids: StreamIds, options: CallOptions): Record<string, string> {
  return {
    CallSid: ids.callSid,
    AccountSid: ids.accountSid,
    From: options.from ?? "+15005550006",
    To: options.to ?? "+15005550001",
    CallStatus: "ringing",
    Direction: "inbound",
  };
}

function emptyReport(ids: StreamIds, errors: ErrorLog): CallReport {
  return {
    call_sid: ids.callSid,
    greeting_ms: null,
    greeting_text: "",
    greeting_audio: new Uint8Array(0),
    turns: [],
    errors: errors.messages,
    recording: new CallRecorder().finish(),
  };
}
