// One simulated phone call against the edge, as Twilio places it, with a caller who follows a script:
// listen to the greeting, then for each line wait for the turn to come (the answer ended, then a
// pause; or, for a barge-in, a set time into the answer), and speak, make noise or press keys.
import { FRAME_MS } from "@voice/protocol";
import { turnTicks, type CallerTick } from "./caller-audio.js";
import type { LineInfo, Segment } from "./conversation.js";
import type { StreamIds } from "../twilio/media-stream-frames.js";
import { CallRecorder } from "./recording.js";
import { ErrorLog, type CallReport } from "./report.js";
import { callerTurn, checkCallerScript, type CallerScript, type CallerTurn } from "./script.js";
import { registerCallerLines } from "./script-registration.js";
import { MediaStreamSession, type NetworkStall, type WaitOutcome } from "./session.js";
import { newSid, openMediaStream, requestStreamTwiml } from "./twilio-client.js";
import { LOCAL_ACCOUNT_SID } from "../twilio/stream-start.js";

export interface CallOptions {
  /** The edge's base URL, e.g. http://127.0.0.1:8787. */
  url: string;
  /** Twilio auth token the edge checks signatures with. */
  authToken: string;
  script: CallerScript;
  /** How long to wait for the greeting to finish, for each answer to start and finish, and for the agent to fall silent (default 15000). */
  timeoutMs?: number;
  /** Silence before each line, as a person takes a breath (default 400); a line's own pauseMs wins. */
  pauseMs?: number;
  /** After a line that wants no answer, and once the agent is silent, how long to listen for an answer that must not come (default 1500). */
  quietMs?: number;
  /** eSpeak pitch of the caller's voice (default 70). */
  callerPitch?: number;
  /** Caller and called numbers in the webhook. */
  from?: string;
  to?: string;
  /** Progress lines while the call runs. */
  log?: (line: string) => void;
  /** The call's CallSid (default: a fresh random one), e.g. to aim an emulator fault at this call. */
  callSid?: string;
  /** The Twilio account the call belongs to: the edge answers only its own (default: the local stack's). */
  accountSid?: string;
  /**
   * Network stalls: `afterMs` into the caller's line `line` (1-based), everything the caller sends is
   * held for `ms` (the line goes on at real time), then the backlog goes out at once, as TCP does
   * after a stall.
   */
  stalls?: StallOption[];
  /**
   * The speech emulator's caller-script registry (the local stack's `emulators.scriptRegistry.url`):
   * before the call, the script's spoken lines are registered there under the CallSid, so the
   * emulator transcribes this call's utterances as those lines. Unset (default): nothing is
   * registered, and the speech service hears what it hears (a real one; the emulator's default script).
   */
  scriptRegistry?: string;
}

export interface StallOption {
  line: number;
  afterMs: number;
  ms: number;
}

export const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_PAUSE_MS = 400;
const DEFAULT_QUIET_MS = 1500;
const DEFAULT_CALLER_PITCH = 70;
/** Bounds the webhook request and the WebSocket handshake. */
const SETUP_TIMEOUT_MS = 10_000;

interface PreparedLine {
  turn: CallerTurn;
  info: LineInfo;
  ticks: CallerTick[];
}

/** Places the call; never rejects: what went wrong is in report.errors. */
export async function runCall(options: CallOptions): Promise<CallReport> {
  const log = options.log ?? (() => {});
  const errors = new ErrorLog();
  const ids: StreamIds = { accountSid: options.accountSid ?? LOCAL_ACCOUNT_SID, callSid: options.callSid ?? newSid("CA"), streamSid: newSid("MZ") };

  let session: MediaStreamSession;
  let lines: PreparedLine[];
  try {
    const checked = checkCallerScript(options.script);
    if (!checked.ok) throw new Error(`the caller script is invalid: ${checked.reason}`);
    lines = await prepareLines(checked.script, options);
    if (options.scriptRegistry !== undefined) {
      const registered = await registerCallerLines(options.scriptRegistry, ids.callSid, checked.script, SETUP_TIMEOUT_MS);
      log(`call ${ids.callSid}: ${registered} caller lines registered with the speech emulator`);
    }
    const twiml = await requestStreamTwiml(options.url, options.authToken, webhookParams(ids, options), SETUP_TIMEOUT_MS);
    log(`call ${ids.callSid}: streaming to ${twiml.streamUrl}`);
    const socket = await openMediaStream(twiml.streamUrl, options.authToken, SETUP_TIMEOUT_MS);
    session = new MediaStreamSession(socket, ids, twiml.parameters, errors);
  } catch (error) {
    errors.add((error as Error).message);
    return emptyReport(ids, errors);
  }

  session.begin();
  try {
    await converse(session, lines, options, errors, log);
  } catch (error) {
    errors.add(`simulator failed mid-call: ${(error as Error).message}`);
  } finally {
    await session.hangUp();
  }
  return session.report();
}

async function converse(session: MediaStreamSession, lines: PreparedLine[], options: CallOptions, errors: ErrorLog, log: (line: string) => void) {
  const timing: Timing = {
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    pauseMs: options.pauseMs ?? DEFAULT_PAUSE_MS,
    quietMs: options.quietMs ?? DEFAULT_QUIET_MS,
  };
  for (const [index, line] of lines.entries()) {
    if (!(await awaitTurn(session, line.turn, timing, errors, log))) return;
    log(`turn ${index + 1}: caller ${describeLine(line.info)}`);
    const stall = options.stalls?.find((s) => s.line === index + 1);
    const networkStall: NetworkStall | undefined = stall && { atTick: Math.round(stall.afterMs / FRAME_MS), ms: stall.ms };
    if (stall) log(`turn ${index + 1}: the network stalls ${stall.ms} ms, ${stall.afterMs} ms into the line`);
    if ((await session.speak(line.info, line.ticks, networkStall)) === "closed") return;
  }
  await awaitTurn(session, undefined, timing, errors, log);
}

interface Timing {
  timeoutMs: number;
  pauseMs: number;
  quietMs: number;
}

/**
 * Waits until the caller's `next` line is due (or, with no next line, until the call can end): for a
 * barge-in, a set time after the current answer started playing; otherwise until the previous line's
 * answer has been heard (or, for a line that wants none, until the agent has been silent for quietMs),
 * then the pause. Returns false once the stream has closed.
 */
async function awaitTurn(session: MediaStreamSession, next: CallerTurn | undefined, timing: Timing, errors: ErrorLog, log: (line: string) => void) {
  const open = (outcome: WaitOutcome) => outcome !== "closed";
  const { conversation } = session;
  if (next?.interruptAfterMs !== undefined) {
    const answer = conversation.answerReference;
    const started = await session.until(() => answer.firstPlayAudioMs !== null, timing.timeoutMs);
    if (started === "timeout") errors.add(noAnswer(answer, timing.timeoutMs));
    const due = (answer.firstPlayAudioMs ?? session.audioClockMs) + next.interruptAfterMs;
    return open(started) && open(await session.until(() => session.audioClockMs >= due, Infinity));
  }

  const previous = conversation.current;
  if (previous === conversation.greeting) {
    const heard = await session.until(() => session.greetingFinished, timing.timeoutMs);
    if (!open(heard)) return false;
    if (heard === "timeout") errors.add(`greeting did not finish within ${timing.timeoutMs} ms`);
    else log("greeting heard");
  } else if (previous.line.expectAnswer) {
    const heard = await session.until(() => previous.finished, timing.timeoutMs);
    if (!open(heard)) return false;
    if (heard === "timeout") errors.add(noAnswer(previous, timing.timeoutMs));
    else log(`turn ${previous.index}: answer heard`);
  } else {
    // A line the agent must let pass: it may finish what it was saying; then nothing may follow (an
    // answer that does is an error, see the session), and the caller waits for that to end too.
    const untilSilent = async () => {
      const silent = await session.until(() => session.agentIdle, timing.timeoutMs);
      if (silent === "timeout") errors.add(`the agent was still speaking ${timing.timeoutMs} ms after turn ${previous.index}`);
      return open(silent);
    };
    const quiet = async () => open(await session.waitTicks(Math.round(timing.quietMs / FRAME_MS)));
    if (!(await untilSilent()) || !(await quiet()) || !(await untilSilent())) return false;
  }
  if (!next) return true;
  return open(await session.waitTicks(Math.round((next.pauseMs ?? timing.pauseMs) / FRAME_MS)));
}

function noAnswer(segment: Segment, timeoutMs: number): string {
  return segment.index === 0 ? `greeting did not start within ${timeoutMs} ms` : `no answer to turn ${segment.index} (waited ${timeoutMs} ms)`;
}

function describeLine(info: LineInfo): string {
  if (info.kind === "speech") return `says: ${info.text}`;
  return info.kind === "dtmf" ? `presses: ${info.text}` : "makes a noise";
}

/** Up front, so that no eSpeak work competes with the 20 ms clock during the call. */
async function prepareLines(script: CallerScript, options: CallOptions): Promise<PreparedLine[]> {
  const voice = { voice: script.voice, pitch: options.callerPitch ?? DEFAULT_CALLER_PITCH };
  const prepared: PreparedLine[] = [];
  for (const [index, line] of script.lines.entries()) {
    const turn = callerTurn(line);
    const text = turn.act.kind === "speech" ? turn.act.text : turn.act.kind === "dtmf" ? turn.act.digits : "";
    prepared.push({ turn, info: { kind: turn.act.kind, text, expectAnswer: turn.expectAnswer }, ticks: await turnTicks(turn, voice, index + 1) });
  }
  return prepared;
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
    clears: [],
    errors: errors.messages,
    recording: new CallRecorder().finish(),
  };
}
