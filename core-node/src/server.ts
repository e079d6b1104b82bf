// HTTP + WebSocket front of the core: health and warmup for the deploy pipeline, the greeting audio
// for the edge's KV, and the per-call WebSocket the edge relays each call to.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { CORE_CALL_PATH, GREETING_KEY_HEADER, greetingKey, verifyCoreToken } from "@voice/protocol";
import { WebSocketServer } from "ws";
import { constructions, errorText, type App } from "./app.js";
import { CallSession } from "./call/session.js";

export interface CoreServer {
  /** The port actually bound (useful with port 0). */
  port: number;
  activeCalls(): number;
  /** Stops accepting, ends every call (closing its socket), and closes the listener. */
  close(): Promise<void>;
}

/** Cloud Run allows 10 s after SIGTERM; calls get most of it to close cleanly. */
const SHUTDOWN_GRACE_MS = 5000;

/** Incoming frames are ~300 bytes; anything near this is not a Twilio frame. */
const MAX_FRAME_BYTES = 64 * 1024;

export async function startServer(app: App, options: { port: number; host?: string }): Promise<CoreServer> {
  const sessions = new Set<CallSession>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });

  const http = createServer((request, response) => {
    handleHttp(app, sessions, request, response).catch((error: unknown) => {
      app.log.error({ path: request.url, error: errorText(error) }, "HTTP handler failed");
      if (!response.headersSent) json(response, 500, { error: "internal error" });
      else response.destroy();
    });
  });

  http.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    void authorizeCall(app, request).then((check) => {
      if (!check.ok) {
        app.log.warn({ path: request.url, reason: check.reason }, "call refused");
        socket.end(`HTTP/1.1 ${check.status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => {
        const session = new CallSession(app, ws, { tokenCallSid: check.callSid, onEnded: (s) => sessions.delete(s) });
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
    async close() {
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      for (const session of [...sessions]) session.shutdown();
      wss.close();
      http.closeIdleConnections();
      // A peer that does not answer the close handshake must not hold the shutdown past the grace.
      const grace = setTimeout(() => {
        for (const client of wss.clients) client.terminate();
        http.closeAllConnections();
      }, SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(grace);
    },
  };
}

type CallCheck = { ok: true; callSid: string } | { ok: false; status: string; reason: string };

async function authorizeCall(app: App, request: IncomingMessage): Promise<CallCheck> {
  const path = new URL(request.url ?? "/", "http://core").pathname;
  if (path !== CORE_CALL_PATH) return { ok: false, status: "404 Not Found", reason: `no WebSocket at ${path}` };
  const check = await verifyCoreToken(app.config.CORE_SHARED_SECRET, bearerToken(request), Date.now());
  if (!check.ok) return { ok: false, status: "401 Unauthorized", reason: check.reason };
  return { ok: true, callSid: check.callSid };
}

function bearerToken(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
}

async function handleHttp(app: App, sessions: Set<CallSession>, request: IncomingMessage, response: ServerResponse) {
  const path = new URL(request.url ?? "/", "http://core").pathname;
  if (request.method !== "GET") return json(response, 405, { error: "method not allowed" });
  switch (path) {
    case "/health":
      // Always 200 while the process serves: a Cloud Run startup or liveness probe that failed on
      // "degraded" would restart the instance, which cannot fix credentials or a service outage and
      // would turn them into a crash loop. The deploy pipeline gates on `status` (and on
      // /health/warmup's `ok`) instead.
      return json(response, 200, {
        ...app.health(),
        uptime_s: Math.round((Date.now() - app.startedAt) / 1000),
        active_calls: sessions.size,
        constructions,
        tts_cache: { entries: app.ttsCache.size, bytes: app.ttsCache.bytes },
      });
    case "/health/warmup":
      return json(response, 200, await app.warmup());
    case "/greeting":
      return greeting(app, request, response);
    default:
      return json(response, 404, { error: "not found" });
  }
}

/** The greeting's audio (8 kHz mu-law, no header) for the edge's KV, keyed by what shapes it. */
async function greeting(app: App, request: IncomingMessage, response: ServerResponse) {
  const check = await verifyCoreToken(app.config.CORE_SHARED_SECRET, bearerToken(request), Date.now());
  if (!check.ok) return json(response, 401, { error: check.reason });
  const { config } = app;
  const key = await greetingKey({
    text: config.GREETING_TEXT,
    language: config.LANGUAGE,
    voice: config.TTS_VOICE,
    encoding: "MULAW",
    sampleRateHertz: 8000,
  });
  const { audio } = await app.tts.synthesize(config.GREETING_TEXT);
  response.writeHead(200, {
    "content-type": "audio/basic",
    "content-length": audio.length,
    [GREETING_KEY_HEADER]: key,
  });
  response.end(audio);
}

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  response.end(text);
}
