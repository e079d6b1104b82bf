// GET /twilio/media: the caller's side of one call. Workers bill CPU, so frames are recognised by
// their first bytes and relayed as the very same text; only `start` is parsed in full (it carries
// the call and stream ids). The core's side, including re-opening a lost link, is core-session.ts.
// Bad input is dropped with a logged reason, never thrown: a broken frame must not end a call.
import { peekEvent } from "@voice/protocol/core-link";
import { startFrame } from "@voice/protocol/twilio";
import type { Context } from "hono";
import { CoreSession, type CallSide } from "./core-session.js";
import type { AppEnv, Env } from "./env.js";
import { isMediaFrame, looksLikeJsonObject, parseJson } from "./frames.js";
import { errorText, logEvent, type Severity } from "./log.js";
import { PHRASE_MARKS } from "@voice/protocol/phrase";
import { loadPhrase, phraseFrames, type PhraseName } from "./phrases.js";
import { reconnectPolicy } from "./reconnect-policy.js";
import { verifyMediaUpgrade } from "./signature.js";
import { CLOSE_INTERNAL_ERROR, CLOSE_NORMAL, closeQuietly } from "./socket.js";

/** Twilio events relayed to the core once the stream has started. */
const RELAYED_EVENTS = new Set(["media", "mark", "dtmf", "stop"]);
/** Drops logged per call; past this a misbehaving peer is only counted (in the "call ended" line). */
const MAX_LOGGED_DROPS = 20;

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
  private ended = false;
  callSid = "";
  private streamSid = "";
  private startedAt = 0;
  private framesToCaller = 0;
  private framesDropped = 0;

  constructor(
    private readonly caller: WebSocket,
    private readonly env: Env,
  ) {}

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
  }

  private onCallerFrame(data: string | ArrayBuffer): void {
    // The common case first, unparsed: the session relays, buffers or drops it (a no-op once ended).
    if (this.core && typeof data === "string" && isMediaFrame(data)) return this.core.forward(data);
    if (this.ended) return;
    if (typeof data !== "string") return this.drop("binary frame", { bytes: data.byteLength });
    const event = looksLikeJsonObject(data) ? peekEvent(data) : undefined;
    if (event === undefined) return this.drop("not a Twilio frame", { head: data.slice(0, 40) });
    if (!this.core) {
      if (event === "start") return this.onStart(data);
      // `connected` is Twilio's hello before `start`: expected, and there is nothing to relay it to.
      if (event !== "connected") this.drop("frame before start", { event: event.slice(0, 40) });
      return;
    }
    if (!RELAYED_EVENTS.has(event)) {
      const reason = event === "start" || event === "connected" ? `repeated ${event}` : "unknown event";
      return this.drop(reason, { event: event.slice(0, 40) });
    }
    // No core to tell: the caller's stop ends the call here.
    if (event === "stop" && this.core.away) return this.end("caller stopped while the core was away", "INFO", CLOSE_NORMAL);
    this.core.forward(data);
  }

  private onStart(text: string): void {
    const parsed = startFrame.safeParse(parseJson(text));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return this.drop("invalid start frame", { issue: issue && `${issue.path.map(String).join(".")}: ${issue.message}` });
    }
    this.callSid = parsed.data.start.callSid;
    this.streamSid = parsed.data.streamSid;
    this.startedAt = Date.now();
    const { policy, problem } = reconnectPolicy(this.env.RECONNECT_BUDGET_MS);
    if (problem) logEvent("WARNING", "bad setting, using the default", { call_id: this.callSid, problem });
    logEvent("INFO", "call started", { call_id: this.callSid, streamSid: this.streamSid });
    this.core = new CoreSession(this.env, this, policy, text);
    // The greeting plays while the core socket opens: the caller never waits for the core to hear it.
    this.core
      .open(this.playPhrase("greeting"))
      .catch((error: unknown) => this.end("relay failed", "ERROR", CLOSE_INTERNAL_ERROR, { error: errorText(error) }));
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
    if (this.ended) return;
    this.ended = true;
    closeQuietly(this.caller, closeCode, reason);
    this.core?.close(closeCode, reason);
    logEvent(severity, "call ended", {
      call_id: this.callSid || undefined,
      streamSid: this.streamSid || undefined,
      reason,
      ...fields,
      durationMs: this.startedAt ? Date.now() - this.startedAt : 0,
      framesToCaller: this.framesToCaller,
      framesDropped: this.framesDropped,
      ...this.core?.stats,
    });
  }
}
