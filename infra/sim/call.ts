// One simulated phone call against the edge, as Twilio places it, with a caller who follows a script:
// listen to the greeting, then for each line wait for the turn to come (the answer ended, then a
// pause; or, for a barge-in, a set time into the answer), and speak, make noise, press keys, keep
// silent or play a tone. When the stream ends (the caller hangs up after its last line, or the edge
// closes it) Twilio's call control takes over (call-control.ts): the <Connect action> is asked what
// next, and its TwiML is run: <Hangup/>, <Say>, <Dial> (dial.ts), or a new stream on which the
// caller, back with the agent, goes on with the lines it has left once the agent has spoken.
import { FRAME_MS } from "@voice/protocol";
import { turnTicks, type CallerTick } from "./caller-audio.js";
import { CallControl, type ControlAction, type ControlEvent } from "./call-control.js";
import type { LineInfo, Segment } from "./conversation.js";
import { ringNumber } from "./dial.js";
import type { StreamIds } from "../twilio/media-stream-frames.js";
import { ErrorLog, callReport, lineLabel, type CallControlReport, type CallReport, type StreamReport } from "./report.js";
import { callerTurn, checkCallerScript, type CallerScript, type CallerTurn } from "./script.js";
import { registerCallerLines } from "./script-registration.js";
import { MediaStreamSession, type NetworkStall, type WaitOutcome } from "./session.js";
import { newSid, openMediaStream, requestStreamTwiml, requestTwiml } from "./twilio-client.js";
import type { StreamTwiml } from "./twiml.js";
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

/** What the call has done so far, across its streams and dials. */
interface CallProgress {
  streams: StreamReport[];
  /** The next script line to say (0-based). */
  nextLine: number;
  lastAgentAudioEndAt: number | null;
  deadAirMs: number | null;
  whisper: string | null;
}

/** Places the call; never rejects: what went wrong is in report.errors. */
export async function runCall(options: CallOptions): Promise<CallReport> {
  const log = options.log ?? (() => {});
  const errors = new ErrorLog();
  const callSid = options.callSid ?? newSid("CA");
  const accountSid = options.accountSid ?? LOCAL_ACCOUNT_SID;
  const params = webhookParams(callSid, accountSid, options);
  const control = new CallControl();
  const progress: CallProgress = { streams: [], nextLine: 0, lastAgentAudioEndAt: null, deadAirMs: null, whisper: null };

  let script: CallerScript;
  let lines: PreparedLine[];
  let firstStream: StreamTwiml;
  try {
    const checked = checkCallerScript(options.script);
    if (!checked.ok) throw new Error(`the caller script is invalid: ${checked.reason}`);
    script = checked.script;
    lines = await prepareLines(script, options);
    if (options.scriptRegistry !== undefined) {
      const registered = await registerCallerLines(options.scriptRegistry, callSid, script, SETUP_TIMEOUT_MS);
      log(`call ${callSid}: ${registered} caller lines registered with the speech emulator`);
    }
    firstStream = await requestStreamTwiml(options.url, options.authToken, { ...params, CallStatus: "ringing" }, SETUP_TIMEOUT_MS);
  } catch (error) {
    errors.add((error as Error).message);
    return callReport(callSid, [], { ...controlReport(control, progress, "error"), unsaid_lines: [] }, errors.messages);
  }

  const perform = async (action: Exclude<ControlAction, { type: "end" }>): Promise<ControlEvent> => {
    switch (action.type) {
      case "stream":
        return playStream(action.stream, { options, callSid, accountSid, lines, lingerMs: script.lingerMs ?? 0, progress, errors, log });
      case "fetch":
        try {
          log(`call ${callSid}: ${action.what} ${action.url} (${Object.entries(action.fields).map(([k, v]) => `${k}=${v}`).join(" ")})`);
          return { type: "twiml", verbs: await requestTwiml(action.url, options.authToken, { ...params, ...action.fields }, SETUP_TIMEOUT_MS, action.what) };
        } catch (error) {
          return { type: "failed", reason: (error as Error).message };
        }
      case "dial": {
        const ringAt = performance.now();
        progress.deadAirMs = progress.lastAgentAudioEndAt === null ? null : Math.round(ringAt - progress.lastAgentAudioEndAt);
        const context = { authToken: options.authToken, callSid, accountSid, from: params.From, script, requestTimeoutMs: SETUP_TIMEOUT_MS, log };
        const result = await ringNumber(action.dial, action.index, context);
        if (result.whisper !== null) progress.whisper = result.whisper;
        return result.event;
      }
    }
  };

  let action: ControlAction = { type: "stream", stream: firstStream };
  while (action.type !== "end") action = control.handle(await perform(action));
  if (action.error) errors.add(action.error);
  if (action.endedBy === "fallback") errors.add("the edge sent the caller to the human fallback: the stream ended with nothing having said the call should end");
  log(`call ${callSid}: ended by ${action.endedBy}`);
  const unsaid = lines.slice(progress.nextLine).map((line) => lineLabel(line.info.kind, line.info.text, line.ticks.length * FRAME_MS));
  return callReport(callSid, progress.streams, { ...controlReport(control, progress, action.endedBy), unsaid_lines: unsaid }, errors.messages);
}

function controlReport(control: CallControl, progress: CallProgress, endedBy: CallControlReport["ended_by"]): Omit<CallControlReport, "unsaid_lines"> {
  const lastDial = control.dials.at(-1);
  return {
    ended_by: endedBy,
    transferred_to: lastDial?.to ?? null,
    dial_outcome: lastDial?.status ?? null,
    dead_air_ms: lastDial ? progress.deadAirMs : null,
    returned_to_agent: control.returned,
    whisper_text: progress.whisper,
    say_texts: control.says,
    return_answers: progress.streams.slice(1).map((stream) => stream.greeting_text),
  };
}

interface StreamContext {
  options: CallOptions;
  callSid: string;
  accountSid: string;
  lines: PreparedLine[];
  lingerMs: number;
  progress: CallProgress;
  errors: ErrorLog;
  log: (line: string) => void;
}

/**
 * One media stream: the caller says the lines it has left (after the agent's greeting, or its first
 * answer after a return); then, with the script done, stays lingerMs and hangs up, unless the edge
 * closed the stream first. Never rejects: a stream that cannot be opened is a `failed` event.
 */
async function playStream(stream: StreamTwiml, context: StreamContext): Promise<ControlEvent> {
  const { options, progress, errors, log } = context;
  const returning = progress.streams.length > 0;
  const ids: StreamIds = { accountSid: context.accountSid, callSid: context.callSid, streamSid: newSid("MZ") };
  let session: MediaStreamSession;
  try {
    log(`call ${ids.callSid}: streaming to ${stream.streamUrl}${returning ? " (back with the agent)" : ""}`);
    const socket = await openMediaStream(stream.streamUrl, options.authToken, SETUP_TIMEOUT_MS);
    session = new MediaStreamSession(socket, ids, stream.parameters, errors, stream.action !== null);
  } catch (error) {
    return { type: "failed", reason: (error as Error).message };
  }

  session.begin();
  const firstLine = progress.nextLine;
  try {
    await converse(session, context.lines.slice(firstLine), firstLine, returning, options, errors, log);
    const scriptDone = firstLine + session.conversation.turns.length === context.lines.length;
    if (scriptDone && context.lingerMs > 0 && !session.closed) {
      log(`call ${ids.callSid}: script done; staying on the line ${context.lingerMs} ms`);
      await session.until(() => false, context.lingerMs);
    }
  } catch (error) {
    errors.add(`simulator failed mid-call: ${(error as Error).message}`);
  }
  const by = session.closed ? "edge" : "caller";
  if (by === "caller") await session.hangUp();
  else log(`call ${ids.callSid}: the edge ended the stream (${session.closedByEdge})`);
  progress.nextLine += session.conversation.turns.length;
  progress.lastAgentAudioEndAt = session.lastAgentAudioEndAt ?? progress.lastAgentAudioEndAt;
  progress.streams.push(session.report());
  return { type: "streamEnded", by, stream, detail: session.closedByEdge ?? "" };
}

async function converse(
  session: MediaStreamSession,
  lines: PreparedLine[],
  firstLine: number,
  returning: boolean,
  options: CallOptions,
  errors: ErrorLog,
  log: (line: string) => void,
) {
  const timing: Timing = {
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    pauseMs: options.pauseMs ?? DEFAULT_PAUSE_MS,
    quietMs: options.quietMs ?? DEFAULT_QUIET_MS,
    opening: returning ? "the agent's first answer after the return" : "greeting",
  };
  for (const [index, line] of lines.entries()) {
    const number = firstLine + index + 1;
    if (!(await awaitTurn(session, line.turn, timing, errors, log))) return;
    log(`turn ${number}: caller ${describeLine(line.info)}`);
    const stall = options.stalls?.find((s) => s.line === number);
    const networkStall: NetworkStall | undefined = stall && { atTick: Math.round(stall.afterMs / FRAME_MS), ms: stall.ms };
    if (stall) log(`turn ${number}: the network stalls ${stall.ms} ms, ${stall.afterMs} ms into the line`);
    if ((await session.speak(line.info, line.ticks, networkStall)) === "closed") return;
  }
  await awaitTurn(session, undefined, timing, errors, log);
}

interface Timing {
  timeoutMs: number;
  pauseMs: number;
  quietMs: number;
  /** What the agent's first words on this stream are called in errors. */
  opening: string;
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
    if (started === "timeout") errors.add(noAnswer(answer, timing));
    const due = (answer.firstPlayAudioMs ?? session.audioClockMs) + next.interruptAfterMs;
    return open(started) && open(await session.until(() => session.audioClockMs >= due, Infinity));
  }

  const previous = conversation.current;
  if (previous === conversation.greeting) {
    const heard = await session.until(() => session.greetingFinished, timing.timeoutMs);
    if (!open(heard)) return false;
    if (heard === "timeout") errors.add(`${timing.opening} did not finish within ${timing.timeoutMs} ms`);
    else log(`${timing.opening} heard`);
  } else if (previous.line.expectAnswer) {
    const heard = await session.until(() => previous.finished, timing.timeoutMs);
    if (!open(heard)) return false;
    if (heard === "timeout") errors.add(noAnswer(previous, timing));
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

function noAnswer(segment: Segment, timing: Timing): string {
  return segment.index === 0 ? `${timing.opening} did not start within ${timing.timeoutMs} ms` : `no answer to turn ${segment.index} (waited ${timing.timeoutMs} ms)`;
}

function describeLine(info: LineInfo): string {
  switch (info.kind) {
    case "speech":
      return `says: ${info.text}`;
    case "dtmf":
      return `presses: ${info.text}`;
    case "noise":
      return "makes a noise";
    default:
      return `keeps ${info.kind === "tone" ? "a tone playing" : "silent"}`;
  }
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

/** The parameters Twilio sends with every request about the call (CallStatus is added per request). */
function webhookParams(callSid: string, accountSid: string, options: CallOptions): { From: string } & Record<string, string> {
  return {
    CallSid: callSid,
    AccountSid: accountSid,
    From: options.from ?? "+15005550006",
    To: options.to ?? "+15005550001",
    Direction: "inbound",
  };
}
