// GET /twilio/media: one call's relay between Twilio's Media Stream and the core. Workers bill CPU,
// so frames are recognised by their event name and relayed as the very same text; only `start` is
// parsed in full (it carries the call and stream ids). Bad input is dropped with a logged reason,
// never thrown: a broken frame must not end a call.
import { isControlMessage, peekEvent, type EdgeGreeting } from "@voice/protocol/core-link";
import { startFrame } from "@voice/protocol/twilio";
import type { Context } from "hono";
import { openCoreSocket } from "./core-link.js";
import type { AppEnv, Env } from "./env.js";
import { GREETING_MARK, greetingFrames, greetingKeyFor } from "./greeting.js";
import { errorText, logEvent, type Severity } from "./log.js";
import { verifyMediaUpgrade } from "./signature.js";

/** Twilio events relayed to the core once the stream has started. */
const RELAYED_EVENTS = new Set(["media", "mark", "dtmf", "stop"]);
/** Drops logged per call; past this a misbehaving peer is only counted (in the "call ended" line). */
const MAX_LOGGED_DROPS = 20;

const CLOSE_NORMAL = 1000;
const CLOSE_INTERNAL_ERROR = 1011;

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

type Phase = "awaiting-start" | "connecting" | "relaying" | "ended";

function closeQuietly(socket: WebSocket, code: number, reason: string): void {
  try {
    socket.close(code, reason);
  } catch {
    // Already closed: nothing left to release.
  }
}

/** Cheap shape check before trusting peekEvent: Twilio's frames are JSON objects. */
function looksLikeJsonObject(text: string): boolean {
  return text.charCodeAt(0) === 0x7b;
}

class CallRelay {
  private phase: Phase = "awaiting-start";
  private core: WebSocket | undefined;
  /** Caller frames that arrived while the core socket was opening; relayed in order once it is open. */
  private pending: string[] = [];
  private callSid: string | undefined;
  private streamSid = "";
  private startedAt = 0;
  private framesToCore = 0;
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
    if (this.phase === "ended") return;
    if (typeof data !== "string") return this.drop("binary frame", { bytes: data.byteLength });
    const event = looksLikeJsonObject(data) ? peekEvent(data) : undefined;
    if (event === undefined) return this.drop("not a Twilio frame", { head: data.slice(0, 40) });
    if (this.phase === "awaiting-start") {
      if (event === "start") return this.onStart(data);
      // `connected` is Twilio's hello before `start`: expected, and there is nothing to relay it to.
      if (event !== "connected") this.drop("frame before start", { event: event.slice(0, 40) });
      return;
    }
    if (!RELAYED_EVENTS.has(event)) {
      const reason = event === "start" || event === "connected" ? `repeated ${event}` : "unknown event";
      return this.drop(reason, { event: event.slice(0, 40) });
    }
    if (this.phase === "connecting") this.pending.push(data);
    else this.sendToCore(data);
  }

  private onStart(text: string): void {
    let parsed: ReturnType<typeof startFrame.safeParse>;
    try {
      parsed = startFrame.safeParse(JSON.parse(text));
    } catch {
      return this.drop("start frame is not JSON");
    }
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return this.drop("invalid start frame", { issue: issue && `${issue.path.map(String).join(".")}: ${issue.message}` });
    }
    this.callSid = parsed.data.start.callSid;
    this.streamSid = parsed.data.streamSid;
    this.startedAt = Date.now();
    this.phase = "connecting";
    logEvent("INFO", "call started", { call_id: this.callSid, streamSid: this.streamSid });
    this.connect(text).catch((error: unknown) =>
      this.end("relay failed", "ERROR", CLOSE_INTERNAL_ERROR, { error: errorText(error) }),
    );
  }

  /** Plays the greeting and opens the core socket side by side; then tells the core how the call began. */
  private async connect(startText: string): Promise<void> {
    const greeting = this.playGreeting();
    let core: WebSocket;
    try {
      core = await openCoreSocket(this.env, this.callSid!);
    } catch (error) {
      return this.end("core unreachable", "ERROR", CLOSE_INTERNAL_ERROR, { error: errorText(error) });
    }
    const played = await greeting;
    core.binaryType = "arraybuffer";
    core.addEventListener("message", (event) => this.onCoreFrame(event.data));
    core.addEventListener("close", (event) => {
      const normal = event.code === CLOSE_NORMAL;
      this.end("core closed", normal ? "INFO" : "WARNING", normal ? CLOSE_NORMAL : CLOSE_INTERNAL_ERROR, {
        coreCloseCode: event.code,
        coreCloseReason: event.reason,
      });
    });
    core.addEventListener("error", (event) =>
      this.end("core socket error", "WARNING", CLOSE_INTERNAL_ERROR, { error: event.message }),
    );
    core.accept();
    this.core = core;
    if (this.phase === "ended") return closeQuietly(core, CLOSE_NORMAL, "caller hung up");

    this.phase = "relaying";
    const note: EdgeGreeting = { event: "edge.greeting", played, text: this.env.GREETING_TEXT, mark: GREETING_MARK };
    this.sendToCore(startText);
    this.sendToCore(JSON.stringify(note));
    const buffered = this.pending.length;
    for (const frame of this.pending) this.sendToCore(frame);
    this.pending = [];
    logEvent("INFO", "core connected", { call_id: this.callSid, connectMs: Date.now() - this.startedAt, buffered });
  }

  /** Sends the KV greeting to the caller at once; resolves whether it played. Never throws. */
  private async playGreeting(): Promise<boolean> {
    try {
      const key = await greetingKeyFor(this.env);
      const audio = await this.env.GREETINGS.get(key, "arrayBuffer");
      if (this.phase === "ended") return false;
      if (!audio || audio.byteLength === 0) {
        logEvent("WARNING", "greeting not in KV, the core will speak it", { call_id: this.callSid, key });
        return false;
      }
      for (const frame of greetingFrames(new Uint8Array(audio), this.streamSid)) this.sendToCaller(frame);
      logEvent("INFO", "greeting played", { call_id: this.callSid, bytes: audio.byteLength, ms: Date.now() - this.startedAt });
      return true;
    } catch (error) {
      logEvent("WARNING", "greeting failed, the core will speak it", { call_id: this.callSid, error: errorText(error) });
      return false;
    }
  }

  private onCoreFrame(data: string | ArrayBuffer): void {
    if (this.phase === "ended") return;
    if (typeof data !== "string") return this.drop("binary frame from core", { bytes: data.byteLength });
    if (isControlMessage(data)) {
      logEvent("INFO", "core control message", { call_id: this.callSid, event: peekEvent(data) });
      return;
    }
    this.sendToCaller(data);
  }

  private sendToCore(text: string): void {
    if (this.phase === "ended") return;
    try {
      this.core!.send(text);
      this.framesToCore++;
    } catch (error) {
      this.end("core socket unusable", "WARNING", CLOSE_INTERNAL_ERROR, { error: errorText(error) });
    }
  }

  private sendToCaller(text: string): void {
    if (this.phase === "ended") return;
    try {
      this.caller.send(text);
      this.framesToCaller++;
    } catch (error) {
      this.end("caller socket unusable", "WARNING", CLOSE_NORMAL, { error: errorText(error) });
    }
  }

  private drop(reason: string, fields: Record<string, unknown> = {}): void {
    this.framesDropped++;
    if (this.framesDropped <= MAX_LOGGED_DROPS) {
      logEvent("WARNING", "frame dropped", { call_id: this.callSid, reason, ...fields });
    } else if (this.framesDropped === MAX_LOGGED_DROPS + 1) {
      logEvent("WARNING", "further dropped frames of this call are only counted", { call_id: this.callSid });
    }
  }

  /**
   * Ends the call once, on both sockets: either side closing hangs up the other. Closing the socket
   * whose close event we are handling is required too (workerd reports the call as hung otherwise).
   */
  private end(reason: string, severity: Severity, closeCode: number, fields: Record<string, unknown> = {}): void {
    if (this.phase === "ended") return;
    this.phase = "ended";
    this.pending = [];
    closeQuietly(this.caller, closeCode, reason);
    if (this.core) closeQuietly(this.core, closeCode, reason);
    logEvent(severity, "call ended", {
      call_id: this.callSid,
      streamSid: this.streamSid || undefined,
      reason,
      ...fields,
      durationMs: this.startedAt ? Date.now() - this.startedAt : 0,
      framesToCore: this.framesToCore,
      framesToCaller: this.framesToCaller,
      framesDropped: this.framesDropped,
    });
  }
}
