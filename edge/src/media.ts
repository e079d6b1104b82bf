// GET /twilio/media: the caller's side of one call. Workers bill CPU, so frames are recognised by
// their first bytes and relayed as the very same text; only `start` is parsed in full (it carries
// the call and stream ids). The core's side, including re-opening a lost link, is core-session.ts.
// How the stream ends is written to the call's ledger before the stream closes (bookkeeping.ts), so
// Twilio's next question (call-control-routes.ts) gets the right answer: hang up, transfer, fallback.
// Bad input is dropped with a logged reason, never thrown: a broken frame must not end a call.
// Only abuse does: a frame over the size limit (1009) or a flood that lasts (1008).
import type { CoreEnd } from "@voice/protocol/call-control";
import { peekEvent, type ConversationState } from "@voice/protocol/core-link";
import { CLOSE_POLICY_VIOLATION, CLOSE_TOO_BIG, FloodGuard, type FrameVerdict } from "@voice/protocol/limits";
import { SID_PATTERNS, STREAM_TOKEN_PARAMETER, startIdsProblem, verifyStreamToken } from "@voice/protocol/stream-token";
import { startFrame, type StartFrame } from "@voice/protocol/twilio";
import type { Context } from "hono";
import { CallBookkeeping } from "./bookkeeping.js";
import type { CourseEvent } from "./call-course.js";
import { callSettings, type CallSettings } from "./call-settings.js";
import { CoreSession, type CallSide } from "./core-session.js";
import type { AppEnv, Env } from "./env.js";
import { isMediaFrame, looksLikeJsonObject, parseJson } from "./frames.js";
import { errorText, logEvent, type Severity } from "./log.js";
import { PHRASE_MARKS } from "@voice/protocol/phrase";
import { loadPhrase, phraseFrames, type PhraseName } from "./phrases.js";
import { verifyMediaUpgrade } from "./signature.js";
import { CLOSE_INTERNAL_ERROR, CLOSE_NORMAL, closeQuietly } from "./socket.js";
import { STREAM_RENEW_MS } from "./stream-claim.js";

/** Twilio events relayed to the core once the stream has started. */
const RELAYED_EVENTS = new Set(["media", "mark", "dtmf", "stop"]);
/** Drops logged per call; past this a misbehaving peer is only counted (in the "call ended" line). */
const MAX_LOGGED_DROPS = 20;
/** Longest piece of caller-chosen text copied into a log line. */
const MAX_LOGGED_CHARS = 40;
/** A socket that has not sent a valid `start` by then is closed (1008): nothing holds a line open unasked. */
export const START_TIMEOUT_MS = 5_000;
/** Frames held while the `start` is checked (a few milliseconds of WebCrypto and one ledger call); 5 s of audio. */
const MAX_HELD_FRAMES = 250;

export async function handleMediaUpgrade(c: Context<AppEnv>): Promise<Response> {
  if (!(await verifyMediaUpgrade(c.env, c.req.header("x-twilio-signature")))) {
    logEvent("WARNING", "media stream rejected", { reason: "bad signature" });
    return c.body(null, 403);
  }
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") return c.text("expected a WebSocket upgrade", 426);
  const pair = new WebSocketPair();
  new CallRelay(pair[1], c.env).accept();
  return new Response(null, { status: 101, webSocket: pair[0] });
}

class CallRelay implements CallSide {
  /** Set once `start` arrived; until then there is no core to relay to. */
  private core: CoreSession | undefined;
  /** Set once the caller sent `stop`: nothing after it is relayed. */
  private stopped = false;
  private ended = false;
  callSid = "";
  private streamSid = "";
  private startedAt = 0;
  private framesToCaller = 0;
  private framesDropped = 0;
  private readonly settings: CallSettings;
  private readonly flood: FloodGuard;
  /** While the `start` is being checked: the caller's frames after it, in order (see admit). */
  private held: Array<string | ArrayBuffer> | undefined;
  private startDeadline: number | null = null;
  private leaseRenewal: number | null = null;
  /** The call this stream holds in the call's ledger, once admitted. */
  private claimed: { books: CallBookkeeping; holder: string } | undefined;

  constructor(
    private readonly caller: WebSocket,
    private readonly env: Env,
  ) {
    this.settings = callSettings(env);
    this.flood = new FloodGuard(this.settings.flood);
  }

  accept(): void {
    // Binary frames must arrive as ArrayBuffer (not Blob) so they are recognised and dropped cheaply.
    this.caller.binaryType = "arraybuffer";
    this.caller.addEventListener("message", (event) => this.onCallerFrame(event.data));
    this.caller.addEventListener("close", (event) =>
      this.end("caller hung up", "INFO", CLOSE_NORMAL, { callerCloseCode: event.code }),
    );
    this.caller.addEventListener("error", (event) =>
      this.end("caller socket error", "WARNING", CLOSE_NORMAL, { error: event.message }),
    );
    this.caller.accept();
    this.startDeadline = setTimeout(() => {
      if (!this.core) this.refuse(CLOSE_POLICY_VIOLATION, "no valid start in time", { waitedMs: START_TIMEOUT_MS });
    }, START_TIMEOUT_MS);
  }

  private onCallerFrame(data: string | ArrayBuffer): void {
    if (this.ended) return;
    // The limits first, on the length and the first bytes alone: nothing reads a frame that is refused.
    const size = typeof data === "string" ? data.length : data.byteLength;
    if (size > this.settings.maxFrameChars) {
      return this.refuse(CLOSE_TOO_BIG, "frame too big", { frameChars: size, maxFrameChars: this.settings.maxFrameChars });
    }
    // Media is judged on the caller's audio clock (a stall's backlog passes), anything else on a rate.
    const now = Date.now();
    const media = isMedia(data);
    const verdict = media ? this.flood.media(now) : this.flood.other(now);
    if (verdict !== "pass") return this.overRate(verdict);
    if (this.held) return this.hold(data);
    this.route(data, media);
  }

  /** An admitted frame (`media`: recognised as a media frame by its first bytes): relayed to the core, or the start, or dropped with a reason. */
  private route(data: string | ArrayBuffer, media: boolean): void {
    // The common case, unparsed: the session relays, buffers or drops it.
    if (media && this.core && !this.stopped) return this.core.forward(data as string);
    if (typeof data !== "string") return this.drop("binary frame", { bytes: data.byteLength });
    const event = looksLikeJsonObject(data) ? peekEvent(data) : undefined;
    if (event === undefined) return this.drop("not a Twilio frame", { head: data.slice(0, MAX_LOGGED_CHARS) });
    if (this.stopped) return this.drop("frame after stop", { event: event.slice(0, MAX_LOGGED_CHARS) });
    if (!this.core) {
      if (event === "start") return this.onStart(data);
      // `connected` is Twilio's hello before `start`: expected, and there is nothing to relay it to.
      if (event !== "connected") this.drop("frame before start", { event: event.slice(0, MAX_LOGGED_CHARS) });
      return;
    }
    if (!RELAYED_EVENTS.has(event)) {
      const reason = event === "start" || event === "connected" ? `repeated ${event}` : "unknown event";
      return this.drop(reason, { event: event.slice(0, MAX_LOGGED_CHARS) });
    }
    if (event === "stop") {
      this.stopped = true;
      // The caller hung up: the call is over, whatever Twilio asks next.
      void this.claimed?.books.record({ type: "caller stopped", at: Date.now() });
      // No core to tell: the caller's stop ends the call here.
      if (this.core.away) return this.end("caller stopped while the core was away", "INFO", CLOSE_NORMAL);
    }
    this.core.forward(data);
  }

  /** A frame over the flood limit: dropped with one log line per run of drops, or the call closed once the run lasts. */
  private overRate(verdict: Exclude<FrameVerdict, "pass">): void {
    const { maxPerSecond, maxAudioBacklogMs, floodCloseAfterS } = this.settings.flood;
    const limits = { maxPerSecond, maxAudioBacklogMs, floodCloseAfterS, mediaOverClock: this.flood.mediaDropped };
    if (verdict === "close") return this.refuse(CLOSE_POLICY_VIOLATION, "frame flood", limits);
    if (this.flood.droppedInRun === 1) {
      logEvent("WARNING", "frames over the flood limit dropped", { call_id: this.callSid || undefined, ...limits, droppedSoFar: this.flood.droppedTotal });
    }
  }

  /** Ends the call of a caller who broke a limit: the caller's socket gets `code`, the core an ordinary hang-up. */
  private refuse(code: number, reason: string, fields: Record<string, unknown>): void {
    this.finish(reason, "WARNING", code, CLOSE_NORMAL, fields);
  }

  private onStart(text: string): void {
    const parsed = startFrame.safeParse(parseJson(text));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      // A path may hold the caller's own keys (custom parameters): bounded like every other copy.
      const where = issue?.path.map(String).join(".").slice(0, MAX_LOGGED_CHARS);
      return this.drop("invalid start frame", { issue: issue && `${where}: ${issue.message.slice(0, 2 * MAX_LOGGED_CHARS)}` });
    }
    this.held = [];
    this.admit(parsed.data, text).catch((error: unknown) => this.end("start check failed", "ERROR", CLOSE_INTERNAL_ERROR, { error: errorText(error) }));
  }

  private hold(data: string | ArrayBuffer): void {
    if (this.held!.length < MAX_HELD_FRAMES) this.held!.push(data);
    else this.drop("frame while the start was checked");
  }

  /**
   * A real call of our account, minted by our webhook (the stream token), and the only live stream
   * of that call: otherwise the socket is closed 1008 before anything is played or a core is opened.
   */
  private async admit(start: StartFrame, text: string): Promise<void> {
    const { env } = this;
    const { accountSid, callSid } = start.start;
    // Log lines name the call from here on (a well-formed id only: refused or not, it is the caller's claim).
    if (SID_PATTERNS.call.test(callSid)) this.callSid = callSid;
    const secrets = [env.STREAM_TOKEN_SECRET, env.STREAM_TOKEN_SECRET_PREVIOUS ?? ""];
    const problem =
      startIdsProblem({ accountSid, callSid, streamSid: start.streamSid }, env.TWILIO_ACCOUNT_SID) ??
      refusal(await verifyStreamToken(secrets, start.start.customParameters[STREAM_TOKEN_PARAMETER], { accountSid, callSid }, Date.now()));
    if (problem) return this.refuse(CLOSE_POLICY_VIOLATION, "stream refused", { problem });
    const books = new CallBookkeeping(env, callSid);
    const holder = `${start.streamSid}/${crypto.randomUUID()}`;
    const { from, to } = start.start.customParameters;
    const admitted = await books.admit(holder, { callSid, from: from ?? null, to: to ?? null, startedAt: Date.now() });
    if (!admitted.ok) return this.refuse(CLOSE_POLICY_VIOLATION, "stream refused", { problem: "another stream holds this call" });
    this.claimed = { books, holder };
    if (this.ended) return this.releaseCall();
    clearTimeout(this.startDeadline);
    this.leaseRenewal = setInterval(() => books.renew(holder), STREAM_RENEW_MS);
    this.streamSid = start.streamSid;
    this.startedAt = Date.now();
    const { opening } = admitted;
    logEvent("INFO", "call started", { call_id: this.callSid, streamSid: this.streamSid, opening: opening.kind });
    this.core = new CoreSession(this.env, this, this.settings.reconnect, text, opening);
    // The greeting plays while the core socket opens: the caller never waits for the core to hear it.
    // A caller back from a transfer heard it long ago: the core picks up the conversation at once.
    this.core
      .open(opening.kind === "greet" ? this.playPhrase("greeting") : Promise.resolve(false))
      .catch((error: unknown) => this.end("relay failed", "ERROR", CLOSE_INTERNAL_ERROR, { error: errorText(error) }));
    const held = this.held ?? [];
    this.held = undefined;
    for (const frame of held) if (!this.ended) this.route(frame, isMedia(frame));
  }

  /** Lets the call go in its ledger (another stream may then hold it). Never throws. */
  private releaseCall(): void {
    clearInterval(this.leaseRenewal);
    this.claimed?.books.release(this.claimed.holder);
  }

  noteState(state: ConversationState): void {
    this.claimed?.books.noteState(state);
  }

  coreEnded(end: CoreEnd): void {
    const { reason, transferReason } = end;
    const event: CourseEvent = { type: "core ended", at: Date.now(), reason, ...(transferReason ? { transferReason } : {}) };
    // The log line gets the reason alone: a transfer's words are the agent's, about the caller.
    this.endAfterLedger(event, "core ended the call", "INFO", CLOSE_NORMAL, { endReason: reason });
  }

  coreGone(how: "closed" | "lost", reason: string, severity: Severity, closeCode: number, fields: Record<string, unknown> = {}): void {
    this.endAfterLedger({ type: how === "closed" ? "core closed" : "core lost", at: Date.now() }, reason, severity, closeCode, fields);
  }

  /**
   * Ends the call once the ledger holds `event`: Twilio asks the stream's action URL the moment the
   * stream closes, and the answer (hang up, transfer, fallback) is read from the ledger.
   */
  private endAfterLedger(event: CourseEvent, reason: string, severity: Severity, closeCode: number, fields: Record<string, unknown>): void {
    const books = this.claimed?.books;
    if (this.ended || !books) return this.end(reason, severity, closeCode, fields);
    void books.record(event);
    void books.settled().then(() => this.end(reason, severity, closeCode, fields));
  }

  playHold(): void {
    void this.playPhrase("hold");
  }

  /** Sends a phrase from KV to the caller at once, with its mark; resolves whether it played. Never throws. */
  private async playPhrase(name: PhraseName): Promise<boolean> {
    try {
      const { key, payloads } = await loadPhrase(this.env, name);
      if (this.ended) return false;
      if (!payloads) {
        logEvent("WARNING", `${name} phrase not in KV`, { call_id: this.callSid, key });
        return false;
      }
      for (const frame of phraseFrames(payloads, this.streamSid, PHRASE_MARKS[name])) this.toCaller(frame);
      logEvent("INFO", `${name} phrase played`, { call_id: this.callSid, frames: payloads.length, sinceStartMs: Date.now() - this.startedAt });
      return true;
    } catch (error) {
      logEvent("WARNING", `${name} phrase failed`, { call_id: this.callSid, error: errorText(error) });
      return false;
    }
  }

  toCaller(text: string): void {
    if (this.ended) return;
    try {
      this.caller.send(text);
      this.framesToCaller++;
    } catch (error) {
      this.end("caller socket unusable", "WARNING", CLOSE_NORMAL, { error: errorText(error) });
    }
  }

  drop(reason: string, fields: Record<string, unknown> = {}): void {
    this.framesDropped++;
    if (this.framesDropped <= MAX_LOGGED_DROPS) {
      logEvent("WARNING", "frame dropped", { call_id: this.callSid || undefined, reason, ...fields });
    } else if (this.framesDropped === MAX_LOGGED_DROPS + 1) {
      logEvent("WARNING", "further dropped frames of this call are only counted", { call_id: this.callSid || undefined });
    }
  }

  /** Ends the call once, on both sides: either side ending hangs up the other. */
  end(reason: string, severity: Severity, closeCode: number, fields: Record<string, unknown> = {}): void {
    this.finish(reason, severity, closeCode, closeCode, fields);
  }

  private finish(reason: string, severity: Severity, callerCode: number, coreCode: number, fields: Record<string, unknown>): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.startDeadline);
    this.releaseCall();
    closeQuietly(this.caller, callerCode, reason);
    this.core?.close(coreCode, reason);
    logEvent(severity, "call ended", {
      call_id: this.callSid || undefined,
      streamSid: this.streamSid || undefined,
      reason,
      ...fields,
      durationMs: this.startedAt ? Date.now() - this.startedAt : 0,
      framesToCaller: this.framesToCaller,
      framesDropped: this.framesDropped,
      framesOverRate: this.flood.droppedTotal,
      ...this.core?.stats,
    });
  }
}

const refusal = (check: { ok: true } | { ok: false; reason: string }): string | undefined => (check.ok ? undefined : check.reason);

const isMedia = (data: string | ArrayBuffer): boolean => typeof data === "string" && isMediaFrame(data);
