// HTTP + WebSocket front of the core: health and warmup for the deploy pipeline, phrase audio for
// the edge's KV, and the per-call WebSocket the edge relays each call to. Every route takes a core
// token for its own purpose (call, phrase, warmup, health), except GET /health without one, which
// answers only `status` (the probes' and anyone's); its details (failing steps, calls, counts) need a
// health token. The edge signs its own requests for the call id "warmup". What a token holder
// can cost is bounded: MAX_CALLS calls at once, MAX_FRAME_BYTES per frame, and /phrase synthesizes
// at most PHRASE_MAX_UNCACHED_PER_MIN texts a minute that are not in the TTS cache.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import {
  CLOSE_AT_CAPACITY,
  CORE_CALL_PATH,
  MAX_PHRASE_CHARS,
  PHRASE_KEY_HEADER,
  PHRASE_PATH,
  phraseKey,
  verifyCoreToken,
  type CoreTokenCheck,
  type CoreTokenPurpose,
} from "@voice/protocol";
import { WebSocketServer } from "ws";
import { constructions, errorText, type App } from "./app.js";
import { CallSession } from "./call/session.js";
import { requestTrace, traceLogFields } from "./metrics/trace.js";

export interface CoreServer {
  /** The port actually bound (useful with port 0). */
  port: number;
  activeCalls(): number;
  /** Calls refused since start because the core was at MAX_CALLS. */
  callsRefused(): number;
  /**
   * Drains: stops accepting at once, moves every call to another core (each finishes the sentence
   * playing and lets the caller finish an utterance, hands the edge its state and closes with 1012),
   * and resolves once every connection is closed; within DRAIN_MAX_MS, after which the stragglers
   * are cut.
   */
  close(): Promise<void>;
}

/** Cloud Run kills the process 10 s after SIGTERM; the drain leaves room to exit cleanly. */
const DRAIN_MAX_MS = 8000;
/** How long a call may wait for the sentence playing, and the caller's words in progress, before it moves anyway. */
const DRAIN_CALL_MAX_MS = 6000;

/** What GET /health reports about calls. */
interface CallCounts {
  sessions: Set<CallSession>;
  refused: number;
}

export async function startServer(app: App, options: { port: number; host?: string }): Promise<CoreServer> {
  const { config } = app;
  const calls: CallCounts = { sessions: new Set<CallSession>(), refused: 0 };
  const { sessions } = calls;
  const phrases = new PhraseAllowance(config.PHRASE_MAX_UNCACHED_PER_MIN);
  let draining: Promise<void> | undefined;
  // A larger frame makes ws close the socket with 1009 itself (the session logs why).
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.MAX_FRAME_BYTES });

  const http = createServer((request, response) => {
    handleHttp(app, calls, phrases, request, response).catch((error: unknown) => {
      app.log.error({ path: pathOf(request), error }, "HTTP handler failed");
      if (!response.headersSent) json(response, 500, { error: "internal error" });
      else response.destroy();
    });
  });

  http.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    void authorizeCall(app, request).then((check) => {
      // An upgrade already on its way when the drain began (the listener takes no new connection).
      if (draining) check = { ok: false, status: "503 Service Unavailable", reason: "core draining" };
      if (!check.ok) {
        app.log.warn({ path: pathOf(request), reason: check.reason }, "call refused");
        socket.end(`HTTP/1.1 ${check.status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => {
        // Counted here, where the session is added, so upgrades authorized at the same time cannot overshoot.
        if (sessions.size >= config.MAX_CALLS) {
          calls.refused++;
          app.log.warn({ call_id: check.callSid, active_calls: sessions.size, max_calls: config.MAX_CALLS }, "call refused: core at capacity");
          // After the upgrade, so the edge reads a close code (and may try another core), not an HTTP error.
          ws.close(CLOSE_AT_CAPACITY, "core at capacity");
          return;
        }
        const trace = traceLogFields(requestTrace(request.headers), config.GOOGLE_CLOUD_PROJECT);
        const session = new CallSession(app, ws, { tokenCallSid: check.callSid, trace, onEnded: (s) => sessions.delete(s) });
        sessions.add(session);
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port, options.host ?? "0.0.0.0", () => {
      http.off("error", reject);
      resolve();
    });
  });

  return {
    port: (http.address() as AddressInfo).port,
    activeCalls: () => sessions.size,
    callsRefused: () => calls.refused,
    close() {
      draining ??= drain();
      return draining;
    },
  };

  async function drain(): Promise<void> {
    const closed = new Promise<void>((resolve) => http.close(() => resolve()));
    http.closeIdleConnections();
    for (const session of sessions) {
      session.drain(DRAIN_CALL_MAX_MS).catch((error: unknown) => app.log.error({ error }, "call drain failed"));
    }
    // A call whose edge does not answer the close handshake must not hold the exit past the budget.
    const budget = setTimeout(() => {
      if (wss.clients.size > 0) app.log.warn({ calls: wss.clients.size }, "drain budget spent; cutting the calls left");
      for (const client of wss.clients) client.terminate();
      http.closeAllConnections();
    }, DRAIN_MAX_MS);
    await closed;
    clearTimeout(budget);
    wss.close();
  }
}

type CallCheck = { ok: true; callSid: string } | { ok: false; status: string; reason: string };

async function authorizeCall(app: App, request: IncomingMessage): Promise<CallCheck> {
  const path = new URL(request.url ?? "/", "http://core").pathname;
  if (path !== CORE_CALL_PATH) return { ok: false, status: "404 Not Found", reason: `no WebSocket at ${path}` };
  const check = await checkToken(app, "call", request);
  if (!check.ok) return { ok: false, status: "401 Unauthorized", reason: check.reason };
  return { ok: true, callSid: check.callSid };
}

/** The request's core token checked for `purpose` against the current secret and, during a rotation, the previous one. */
async function checkToken(app: App, purpose: CoreTokenPurpose, request: IncomingMessage): Promise<CoreTokenCheck> {
  const { CORE_SHARED_SECRET, CORE_SHARED_SECRET_PREVIOUS } = app.config;
  const check = await verifyCoreToken([CORE_SHARED_SECRET, CORE_SHARED_SECRET_PREVIOUS], purpose, bearerToken(request), Date.now());
  if (check.ok && check.previousSecret) app.log.debug({ purpose }, "core token signed with the previous secret");
  return check;
}

function bearerToken(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
}

/** The path alone: a query string is the client's to fill, and may carry anything. */
function pathOf(request: IncomingMessage): string {
  return new URL(request.url ?? "/", "http://core").pathname;
}

async function handleHttp(app: App, calls: CallCounts, phrases: PhraseAllowance, request: IncomingMessage, response: ServerResponse) {
  const url = new URL(request.url ?? "/", "http://core");
  if (request.method !== "GET") return json(response, 405, { error: "method not allowed" });
  if (url.pathname === "/health") {
    // Without a valid health token (none, or a bad one) the answer is the status alone, never a 401:
    // the probes send none.
    const detailed = request.headers.authorization !== undefined && (await checkToken(app, "health", request)).ok;
    return health(app, calls, detailed, response);
  }
  if (url.pathname !== "/health/warmup" && url.pathname !== PHRASE_PATH) return json(response, 404, { error: "not found" });
  const check = await checkToken(app, url.pathname === PHRASE_PATH ? "phrase" : "warmup", request);
  if (!check.ok) return json(response, 401, { error: check.reason });
  if (url.pathname === PHRASE_PATH) return phrase(app, phrases, url.searchParams.get("text"), response);
  return json(response, 200, await app.warmup());
}

function health(app: App, { sessions, refused }: CallCounts, detailed: boolean, response: ServerResponse): void {
  // Always 200 while the process serves: a Cloud Run startup or liveness probe that failed on
  // "degraded" would restart the instance, which cannot fix credentials or a service outage and
  // would turn them into a crash loop. The deploy pipeline gates on `status` (and on
  // /health/warmup's `ok`) instead.
  const status = app.health();
  // The public answer: what is wrong (an error text naming a credential or endpoint), how busy the
  // core is and what it runs are for token holders.
  if (!detailed) return json(response, 200, { status: status.status });
  json(response, 200, {
    ...status,
    uptime_s: Math.round((Date.now() - app.startedAt) / 1000),
    active_calls: sessions.size,
    max_calls: app.config.MAX_CALLS,
    calls_refused: refused,
    constructions,
    tts_cache: { entries: app.ttsCache.size, bytes: app.ttsCache.bytes, pinned: app.ttsCache.pinnedCount, pinned_bytes: app.ttsCache.pinnedBytes },
  });
}

/**
 * Synthesis of texts not in the TTS cache through GET /phrase, at most `perMinute` in any minute: a
 * token holder asking for ever new texts costs a bounded bill. Texts in the cache are always served.
 */
class PhraseAllowance {
  /** Times (ms) of the uncached syntheses of the last minute, oldest first. */
  private readonly recent: number[] = [];
  private lastWarningAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly perMinute: number) {}

  /** Takes one synthesis if the last minute has room for it. */
  take(nowMs: number): boolean {
    while (this.recent.length > 0 && nowMs - this.recent[0]! >= 60_000) this.recent.shift();
    if (this.recent.length >= this.perMinute) return false;
    this.recent.push(nowMs);
    return true;
  }

  /** One warning line a minute at most, however many requests are refused. */
  warnNow(nowMs: number): boolean {
    if (nowMs - this.lastWarningAt < 60_000) return false;
    this.lastWarningAt = nowMs;
    return true;
  }
}

/**
 * A phrase the edge plays by itself (the greeting, "one moment"), as 8 kHz mu-law without a header,
 * keyed by what shapes its audio. Through the TTS cache, so a repeated warmup costs no synthesis.
 */
async function phrase(app: App, allowance: PhraseAllowance, text: string | null, response: ServerResponse) {
  if (text === null || text.trim() === "") return json(response, 400, { error: "text is required" });
  if (text.length > MAX_PHRASE_CHARS) return json(response, 400, { error: `text is longer than ${MAX_PHRASE_CHARS} characters` });
  const { config } = app;
  const now = performance.now();
  if (!app.ttsCached(text) && !allowance.take(now)) {
    if (allowance.warnNow(now)) {
      app.log.warn({ max_per_min: config.PHRASE_MAX_UNCACHED_PER_MIN }, "phrase refused: too many uncached phrases this minute");
    }
    response.setHeader("retry-after", "60");
    return json(response, 429, { error: `more than ${config.PHRASE_MAX_UNCACHED_PER_MIN} new phrases a minute` });
  }
  const key = await phraseKey({ text, language: config.LANGUAGE, voice: config.TTS_VOICE, encoding: "MULAW", sampleRateHertz: 8000 });
  let audio: Uint8Array;
  try {
    ({ audio } = await app.tts.synthesize(text));
  } catch (error) {
    app.log.warn({ text, error: errorText(error) }, "phrase synthesis failed");
    return json(response, 502, { error: `synthesis failed: ${errorText(error)}` });
  }
  response.writeHead(200, {
    "content-type": "audio/basic",
    "content-length": audio.length,
    [PHRASE_KEY_HEADER]: key,
  });
  response.end(audio);
}

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  response.end(text);
}
