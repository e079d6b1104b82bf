// One stream's link to the core, across re-opens. It opens the link and tells the core how the
// stream began (greeted from KV or not, or back from a transfer nobody took), relays the core's
// frames to the caller verbatim, keeps the latest conversation state the core sent, and when the link
// goes away mid-call (crash, restart, a draining core's core.move) opens a new one within the
// reconnect policy and hands that core the state. Control messages are parsed only when one
// arrives; media frames are never parsed.
import { CORE_RECORD_PATH } from "@voice/protocol/call-record";
import type { CoreEnd } from "@voice/protocol/call-control";
import type { ConversationState } from "@voice/protocol/core-link";
import type { EdgeGreeting, EdgeResume } from "@voice/protocol/link-frames";
import { PHRASE_MARKS } from "@voice/protocol/phrase";
import type { StreamOpening } from "./call-course.js";
import { classifyCoreFrame } from "./core-frames.js";
import { openCoreSocket } from "./core-link.js";
import type { Env } from "./env.js";
import { errorText, logEvent, type Severity } from "./log.js";
import { classifyCoreClose, mayReopen, nextAttempt, type ReconnectPolicy } from "./reconnect-policy.js";
import { CLOSE_INTERNAL_ERROR, CLOSE_NORMAL, closeQuietly } from "./socket.js";

/** What the core session needs from the caller's side of the call. */
export interface CallSide {
  readonly callSid: string;
  /** Sends a frame to the caller verbatim. */
  toCaller(text: string): void;
  /** Plays the hold phrase to the caller; never throws. */
  playHold(): void;
  /** Drops a bad frame with a logged reason. */
  drop(reason: string, fields?: Record<string, unknown>): void;
  /** Ends the call on both sides (closing this session too); only the first call counts. */
  end(reason: string, severity: Severity, closeCode: number, fields?: Record<string, unknown>): void;
  /**
   * The core is gone for this stream: it closed the link normally without core.end ("closed": its
   * own limits) or could not be reached within the reconnect policy ("lost"). The call's ledger
   * hears it, then the call ends as `end` does.
   */
  coreGone(how: "closed" | "lost", reason: string, severity: Severity, closeCode: number, fields?: Record<string, unknown>): void;
  /** The core's core.end: the caller has heard its last words; the ledger hears how the call goes on, then the stream closes. */
  coreEnded(end: CoreEnd): void;
  /** The latest conversation the core sent, kept off the audio path (never awaited). */
  noteState(state: ConversationState): void;
}

/** Where the core posts its part of the call's record: the edge's record route. */
export function coreRecordUrl(publicUrl: string): string {
  return publicUrl.replace(/\/+$/, "") + CORE_RECORD_PATH;
}

/** opening: the first link is being opened (caller frames are buffered); away: a lost link is being re-opened (they are dropped). */
type LinkState = "opening" | "open" | "away" | "closed";

/**
 * Characters (the frames are ASCII JSON: bytes) of caller frames held while the first link opens.
 * Twilio's media frames are ~350 characters, 50 a second: this is ~14 s of them, more than an open
 * may take (connectTimeoutMs, 10 s), so a caller sending what Twilio sends never reaches it; only a
 * flood or oversized frames do, and they cannot make a call hold megabytes.
 *
 * Past it, frames are dropped and counted (`droppedWhileOpening`) rather than the call ended. The
 * frames kept are the oldest, the start of what the caller said, which the core must hear first;
 * what goes is only the excess, where ending the call would lose all of it. A core that does not
 * answer ends the call anyway at connectTimeoutMs ("core unreachable"). A mark echo or `stop` past
 * the cap goes too: the call's end still reaches the core as the link closing.
 */
export const MAX_PENDING_CHARS = 256 * 1024;

export interface CoreSessionStats {
  framesToCore: number;
  reopens: number;
  /** Caller frames dropped while the core was away (media, marks, dtmf). */
  droppedWhileAway: number;
  /** Caller frames dropped while the first link opened, past MAX_PENDING_CHARS. */
  droppedWhileOpening: number;
}

export class CoreSession {
  private state: LinkState = "opening";
  /**
   * The core ended its part (core.end, or its link closed normally): whatever the link does next (an
   * error event after the close, a late close) is expected while the ledger is written, never a loss to repair.
   */
  private endedByCore = false;
  private socket: WebSocket | undefined;
  /** Links the core asked us to leave (core.move); the core closes them, or we do when the call ends. */
  private readonly leaving = new Set<WebSocket>();
  /** Caller frames that arrived while the first link was opening; relayed in order once it is open. */
  private pending: string[] = [];
  /** Characters in `pending`, bounded by MAX_PENDING_CHARS. */
  private pendingChars = 0;
  private droppedWhileOpening = 0;
  private latestState: ConversationState | null;
  private cancelWait: (() => void) | undefined;
  private framesToCore = 0;
  private reopens = 0;
  private droppedWhileAway = 0;

  constructor(
    private readonly env: Env,
    private readonly call: CallSide,
    private readonly policy: ReconnectPolicy,
    /** The caller's `start` frame as received: every link to a core begins with it. */
    private readonly startText: string,
    /** How the first link opens: after the greeting, or resuming a caller back from a transfer. */
    private readonly opening: StreamOpening = { kind: "greet" },
  ) {
    this.latestState = opening.kind === "resume" ? opening.state : null;
  }

  /** True while a lost link is being re-opened. */
  get away(): boolean {
    return this.state === "away";
  }

  get stats(): CoreSessionStats {
    return {
      framesToCore: this.framesToCore,
      reopens: this.reopens,
      droppedWhileAway: this.droppedWhileAway,
      droppedWhileOpening: this.droppedWhileOpening,
    };
  }

  /** Opens the first link; `greeted` resolves whether the caller heard the greeting from KV (false on a return from a transfer). */
  async open(greeted: Promise<boolean>): Promise<void> {
    const startedAt = Date.now();
    let socket: WebSocket;
    try {
      socket = await openCoreSocket(this.env, this.call.callSid, this.policy.connectTimeoutMs);
    } catch (error) {
      return this.call.coreGone("lost", "core unreachable", "ERROR", CLOSE_INTERNAL_ERROR, { error: errorText(error) });
    }
    const played = await greeted;
    if (this.state !== "opening") return discard(socket);
    this.attach(socket);
    this.state = "open";
    const recordUrl = coreRecordUrl(this.env.PUBLIC_URL);
    const { opening } = this;
    const first: EdgeGreeting | EdgeResume =
      opening.kind === "resume"
        ? { event: "edge.resume", state: opening.state, attempt: 1, recordUrl, transfer: opening.transfer }
        : { event: "edge.greeting", played, text: this.env.GREETING_TEXT, mark: PHRASE_MARKS.greeting, recordUrl };
    this.send(this.startText);
    this.send(JSON.stringify(first));
    const buffered = this.pending;
    this.pending = [];
    this.pendingChars = 0;
    for (const frame of buffered) this.send(frame);
    if (this.socket !== socket) return; // lost while handing over; linkGone took it from here
    logEvent("INFO", "core connected", {
      call_id: this.call.callSid,
      connectMs: Date.now() - startedAt,
      buffered: buffered.length,
      droppedWhileOpening: this.droppedWhileOpening,
    });
  }

  /** Relays a caller frame: sent, buffered while the first link opens (up to MAX_PENDING_CHARS), or dropped while the core is away. */
  forward(text: string): void {
    if (this.state === "open") this.send(text);
    else if (this.state === "opening") this.hold(text);
    else if (this.state === "away") this.droppedWhileAway++;
  }

  /** Buffers a frame while the first link opens: the caller's frames from the start, up to the first that does not fit. */
  private hold(text: string): void {
    if (this.droppedWhileOpening === 0 && this.pendingChars + text.length <= MAX_PENDING_CHARS) {
      this.pending.push(text);
      this.pendingChars += text.length;
      return;
    }
    // One line per call; the count goes in "core connected" and "call ended".
    if (this.droppedWhileOpening++ === 0) {
      logEvent("WARNING", "caller frames dropped: the core link is slow to open", {
        call_id: this.call.callSid,
        heldChars: this.pendingChars,
        maxPendingChars: MAX_PENDING_CHARS,
      });
    }
  }

  /** Ends the session with the call: closes every link and stops any reconnect in progress. */
  close(code: number, reason: string): void {
    this.state = "closed";
    this.pending = [];
    this.pendingChars = 0;
    this.cancelWait?.();
    if (this.socket) closeQuietly(this.socket, code, reason);
    for (const socket of this.leaving) closeQuietly(socket, code, reason);
    this.socket = undefined;
    this.leaving.clear();
  }

  /** Listens to a freshly opened link. Events of a link that is no longer current are ignored. */
  private attach(socket: WebSocket): void {
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (event) => {
      if (socket === this.socket) this.onCoreFrame(event.data);
    });
    socket.addEventListener("close", (event) => {
      closeQuietly(socket, CLOSE_NORMAL, "closed by the core");
      this.leaving.delete(socket);
      if (socket === this.socket) this.onLinkClosed(event.code, event.reason);
    });
    socket.addEventListener("error", (event) => {
      closeQuietly(socket, CLOSE_INTERNAL_ERROR, "socket error");
      this.leaving.delete(socket);
      if (socket === this.socket && !this.endedByCore) this.linkGone("lost", { error: event.message });
    });
    socket.accept();
    this.socket = socket;
  }

  private onCoreFrame(data: string | ArrayBuffer): void {
    if (typeof data !== "string") return this.call.drop("binary frame from core", { bytes: data.byteLength });
    const frame = classifyCoreFrame(data);
    switch (frame.kind) {
      case "to caller":
        return this.call.toCaller(data);
      case "state":
        this.latestState = frame.state;
        return this.call.noteState(frame.state);
      case "end":
        this.endedByCore = true;
        return this.call.coreEnded(frame.end);
      case "move":
        this.leaving.add(this.socket!);
        return this.linkGone("moved", { reason: frame.reason });
      case "invalid":
        return this.call.drop(frame.reason, { issue: frame.issue });
      case "unknown":
        return logEvent("INFO", "core control message ignored", { call_id: this.call.callSid, event: frame.event });
    }
  }

  private onLinkClosed(code: number, reason: string): void {
    if (this.endedByCore) return;
    const fields = { coreCloseCode: code, coreCloseReason: reason };
    switch (classifyCoreClose(code)) {
      case "ended":
        this.endedByCore = true;
        return this.call.coreGone("closed", "core ended the call", "INFO", CLOSE_NORMAL, fields);
      case "refused":
        return this.call.end("core refused the call", "WARNING", CLOSE_INTERNAL_ERROR, fields);
      case "moved":
        return this.linkGone("moved", fields);
      case "lost":
        return this.linkGone("lost", fields);
    }
  }

  /** The current link is gone but the call goes on: hold phrase (on a loss) and re-open. */
  private linkGone(cause: "lost" | "moved", fields: Record<string, unknown>): void {
    this.socket = undefined;
    if (this.state === "closed") return;
    if (!mayReopen(this.policy, this.reopens)) {
      return this.call.coreGone("lost", "core lost too often", "ERROR", CLOSE_INTERNAL_ERROR, { cause, ...fields });
    }
    this.state = "away";
    logEvent(cause === "lost" ? "WARNING" : "INFO", cause === "lost" ? "core link lost" : "core moves the call", {
      call_id: this.call.callSid,
      ...fields,
    });
    // A planned move usually succeeds at once, so the caller hears nothing unless it does not.
    if (cause === "lost") this.call.playHold();
    this.reopen(cause).catch((error: unknown) =>
      this.call.coreGone("lost", "reconnect failed", "ERROR", CLOSE_INTERNAL_ERROR, { error: errorText(error) }),
    );
  }

  private async reopen(cause: "lost" | "moved"): Promise<void> {
    const lostAt = Date.now();
    const droppedBefore = this.droppedWhileAway;
    let holdPlayed = cause === "lost";
    for (let index = 0; ; index++) {
      const attempt = nextAttempt(this.policy, index, Date.now() - lostAt, Math.random());
      if (!attempt) {
        return this.call.coreGone("lost", "core did not come back", "ERROR", CLOSE_INTERNAL_ERROR, {
          cause,
          tries: index,
          outageMs: Date.now() - lostAt,
        });
      }
      if (attempt.delayMs > 0) await this.wait(attempt.delayMs);
      if (this.state !== "away") return;
      let socket: WebSocket;
      try {
        socket = await openCoreSocket(this.env, this.call.callSid, attempt.timeoutMs);
      } catch (error) {
        logEvent("WARNING", "core re-open failed", { call_id: this.call.callSid, try: index + 1, error: errorText(error) });
        if (!holdPlayed) {
          holdPlayed = true;
          this.call.playHold();
        }
        continue;
      }
      if (this.state !== "away") return discard(socket);
      this.reopens++;
      this.attach(socket);
      this.state = "open";
      // A stream that began as a return from a transfer has had one resume already.
      const resumes = this.reopens + (this.opening.kind === "resume" ? 1 : 0);
      const resume: EdgeResume = { event: "edge.resume", state: this.latestState, attempt: resumes, recordUrl: coreRecordUrl(this.env.PUBLIC_URL) };
      this.send(this.startText);
      this.send(JSON.stringify(resume));
      if (this.socket !== socket) return; // lost again at once; linkGone took it from here
      logEvent("INFO", "core re-opened", {
        call_id: this.call.callSid,
        cause,
        attempt: this.reopens,
        tries: index + 1,
        outageMs: Date.now() - lostAt,
        droppedWhileAway: this.droppedWhileAway - droppedBefore,
        turns: this.latestState?.turns ?? null,
      });
      return;
    }
  }

  private send(text: string): void {
    const socket = this.socket;
    if (!socket) return;
    try {
      socket.send(text);
      this.framesToCore++;
    } catch (error) {
      // The link broke under us; its close or error event may never come, so act now.
      this.linkGone("lost", { error: errorText(error) });
      closeQuietly(socket, CLOSE_INTERNAL_ERROR, "send failed");
    }
  }

  /** A backoff pause that close() cuts short. */
  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.cancelWait = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** Closes a link opened for a call that ended meanwhile (it must be accepted before it can be closed). */
function discard(socket: WebSocket): void {
  socket.accept();
  closeQuietly(socket, CLOSE_NORMAL, "call ended");
}
