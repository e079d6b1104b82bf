// The softphone's server, on loopback: the page (HTML, style, and the scripts esbuild bundles at
// start), GET /calls (this session's calls, with what the core logged of each), and the WebSocket
// the page opens for a call (/call), behind which the server plays Twilio towards the edge
// (page-call.ts). Only a page served from here may open a call: another site's script could reach a
// loopback port too, but not with this origin.
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import type { CoreCallLog } from "../local/core-call-log.js";
import { bundlePage } from "./bundle.js";
import { liveScriptClient } from "./live-script.js";
import { PageCall, type CallRecord } from "./page-call.js";
import { PageMessage, type PastCall, type ServerMessage } from "./wire.js";

export interface SoftphoneOptions {
  /** The edge's base URL, e.g. http://127.0.0.1:8787. */
  edgeUrl: string;
  /** The Twilio auth token the edge checks signatures with, and the account it answers. */
  authToken: string;
  accountSid: string;
  /** What the stack's cores log, call by call: the live view's only source. */
  callLog: CoreCallLog;
  /** Offline: the speech emulator's caller-script registry (linked to live scripts); the page then asks for your words. */
  scriptRegistryUrl?: string;
  /** 0 (default): any free port. */
  port?: number;
  log?: (line: string) => void;
}

export interface Softphone {
  /** "http://127.0.0.1:<port>": open it in a browser. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** How long close() lets calls hang up. */
const CLOSE_GRACE_MS = 3000;
/** Calls listed per session; past it the oldest go. */
const MAX_CALLS_KEPT = 100;

const STATIC_FILES = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
} as const;

export async function startSoftphone(options: SoftphoneOptions): Promise<Softphone> {
  const log = options.log ?? ((line: string) => console.error(`[softphone] ${line}`));
  const bundle = await bundlePage();
  const pageDir = new URL("./page/", import.meta.url);
  const calls: CallRecord[] = [];
  /** Calls in progress, and each one's end. */
  const running = new Map<PageCall, Promise<void>>();
  const settings = {
    edgeUrl: options.edgeUrl,
    authToken: options.authToken,
    accountSid: options.accountSid,
    callLog: options.callLog,
    log,
    ...(options.scriptRegistryUrl !== undefined && { liveScript: liveScriptClient(options.scriptRegistryUrl) }),
  };

  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://softphone").pathname;
    if (req.method !== "GET") return res.writeHead(405, { allow: "GET" }).end();
    if (path in STATIC_FILES) {
      const { file, type } = STATIC_FILES[path as keyof typeof STATIC_FILES];
      return res.writeHead(200, { "content-type": type, "cache-control": "no-store" }).end(await readFile(new URL(file, pageDir)));
    }
    if (path === "/page.js" || path === "/phone-worklet.js") {
      return res.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-store" }).end(bundle[path.slice(1) as keyof typeof bundle]);
    }
    if (path === "/calls") {
      const listed: PastCall[] = calls.map((call) => ({ ...call, lines: options.callLog.linesOf(call.callSid) }));
      return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(listed.reverse()));
    }
    res.writeHead(404, { "content-type": "text/plain" }).end(`no such page: ${path}\n`);
  };
  const server = createServer((req, res) => {
    serve(req, res).catch((error: unknown) => {
      log(`${req.method} ${req.url}: ${(error as Error).message}`);
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" }).end("softphone error\n");
    });
  });

  const sockets = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on("upgrade", (req, socket, head) => {
    const path = new URL(req.url ?? "/", "http://softphone").pathname;
    const origin = req.headers.origin;
    const own = [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
    if (path !== "/call" || origin === undefined || !own.includes(origin)) {
      socket.end("HTTP/1.1 403 Forbidden\r\n\r\n");
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => startCall(ws));
  });

  const startCall = (ws: WebSocket) => {
    const send = (message: ServerMessage) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(message));
    const call = new PageCall(
      { send, sendAudio: (mulaw) => ws.readyState === ws.OPEN && ws.send(mulaw), close: () => ws.close(1000, "call ended") },
      settings,
    );
    calls.push(call.record);
    if (calls.length > MAX_CALLS_KEPT) calls.shift();

    ws.on("message", (data, isBinary) => {
      const bytes = data as Buffer;
      if (isBinary) return call.microphone(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      let parsed;
      try {
        parsed = PageMessage.safeParse(JSON.parse(bytes.toString()));
      } catch {
        return send({ type: "error", message: "a text message must be JSON" });
      }
      if (!parsed.success) return send({ type: "error", message: `bad message: ${parsed.error.issues[0]?.path.join(".") || "message"}: ${parsed.error.issues[0]?.message}` });
      void call.fromPage(parsed.data);
    });
    ws.on("close", () => call.hangUp());
    running.set(call, call.run().finally(() => running.delete(call)));
  };

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async close() {
      // Each call hangs up as Twilio would (its stream gets `stop`), for a moment at most.
      for (const call of running.keys()) call.hangUp();
      await Promise.race([Promise.all(running.values()), new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS))]);
      for (const ws of sockets.clients) ws.terminate();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
