// The reference booking service of the tool contract (README, "Tools: the agent file and the tool
// contract"): find_slots, book and cancel as signed POSTs, GET /appointments to look. The HTTP shell:
// it reads the body (capped), checks the signature before anything else, and runs each tool call in
// one database transaction with its idempotency key. Every decision is in decide.ts and slots.ts.
import { randomInt } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  appointmentId,
  decideBook,
  decideCancel,
  decideKey,
  findSlotsDay,
  findSlotsReply,
  fingerprintOf,
  isToolName,
  parseBook,
  parseCancel,
  parseToolRequest,
  type Reply,
  type ToolRequest,
} from "./decide.js";
import { IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyToolSignature } from "./sign.js";
import { localClock } from "./slots.js";
import { openStore, type StoreTx } from "./store.js";

export const DEFAULT_BOOKING_PORT = 8091;
/** The largest request body read; a larger one is answered 413 and never parsed. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Past this much a too-large body is no longer drained (so its sender could read the 413): the connection is cut. */
const MAX_DRAIN_BYTES = 1024 * 1024;

/** One line per request, for whoever runs the service. */
export interface BookingLogLine {
  method: string;
  path: string;
  status: number;
  ms: number;
  /** The idempotency key of a tool call. */
  key?: string;
  /** The stored reply of an earlier request with this key was sent; nothing was done. */
  replayed?: boolean;
  /** Why a request was refused or failed (the reply's `error`). */
  error?: string;
}

export interface BookingServiceOptions {
  /** 0 (default) = a free port; `npm start` uses 8091. */
  port?: number;
  /** Loopback by default; the service has no TLS. */
  host?: string;
  /** The SQLite file; its folder is created. The same path after a restart finds the same bookings. */
  dbPath: string;
  /** TOOL_SIGNING_SECRET, shared with the core (16+ characters). */
  signingSecret: string;
  /** The clock (ms since the epoch): the replay window, "today", creation times. */
  now?: () => number;
  log?: (line: BookingLogLine) => void;
}

export interface BookingService {
  url: string;
  port: number;
  close(): Promise<void>;
}

type Outcome = { status: number; body: string; replayed?: boolean; key?: string };

export async function startBookingService(options: BookingServiceOptions): Promise<BookingService> {
  if (options.signingSecret.length < 16) throw new Error("booking service: signingSecret must be at least 16 characters");
  const now = options.now ?? Date.now;
  const store = openStore(options.dbPath);

  /** One tool call, its key checked and its reply stored in the same transaction as its effect. */
  const runToolCall = (request: ToolRequest, nowMs: number): Outcome =>
    store.transaction((tx) => {
      const fingerprint = fingerprintOf(request);
      const decision = decideKey(tx.storedReply(request.idempotencyKey), fingerprint);
      if (decision.kind === "replay") return { status: decision.stored.status, body: decision.stored.body, replayed: true };
      if (decision.kind === "refuse") return { status: decision.reply.status, body: JSON.stringify(decision.reply.body) };
      const createdAt = new Date(nowMs).toISOString();
      const reply = act(tx, request, nowMs, createdAt);
      const body = JSON.stringify(reply.body);
      tx.saveReply(request.idempotencyKey, { fingerprint, status: reply.status, body }, createdAt);
      return { status: reply.status, body };
    });

  const handle = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<Outcome> => {
    if (path === "/appointments") {
      if (req.method !== "GET") return methodNotAllowed(res, "GET");
      return { status: 200, body: JSON.stringify(store.appointments()) };
    }
    const tool = /^\/tools\/([^/]+)$/.exec(path)?.[1];
    if (tool === undefined || !isToolName(tool)) return failure(404, `no such endpoint: ${path}`);
    if (req.method !== "POST") return methodNotAllowed(res, "POST");
    const raw = await readBody(req, res);
    if (raw === "too large") return failure(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    // Nothing is parsed, looked up or stored before the signature and its time pass.
    const nowMs = now();
    const signed = verifyToolSignature(options.signingSecret, { timestamp: header(req, TIMESTAMP_HEADER), signature: header(req, SIGNATURE_HEADER) }, raw, nowMs);
    if (!signed.ok) return failure(401, signed.error);
    const parsed = parseToolRequest(raw.toString("utf8"), tool, header(req, IDEMPOTENCY_HEADER));
    if (!parsed.ok) return { status: parsed.reply.status, body: JSON.stringify(parsed.reply.body) };
    return { ...runToolCall(parsed.request, nowMs), key: parsed.request.idempotencyKey };
  };

  const server = createServer((req, res) => {
    const started = performance.now();
    const path = new URL(req.url ?? "/", "http://booking").pathname;
    handle(req, res, path)
      .catch((error: unknown) => failure(500, `internal error: ${error instanceof Error ? error.message : String(error)}`))
      .then((outcome) => {
        if (!res.headersSent) {
          res.writeHead(outcome.status, {
            "content-type": "application/json; charset=utf-8",
            "content-length": Buffer.byteLength(outcome.body),
            ...(outcome.replayed && { "idempotent-replayed": "true" }),
          });
        }
        res.end(outcome.body);
        options.log?.({
          method: req.method ?? "?",
          path,
          status: outcome.status,
          ms: Math.round(performance.now() - started),
          ...(outcome.key !== undefined && { key: outcome.key }),
          ...(outcome.replayed && { replayed: true }),
          ...(outcome.status >= 400 && { error: errorOf(outcome.body) }),
        });
      })
      .catch(() => res.destroy());
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      store.close();
    },
  };
}

/** What a tool does, inside the transaction; the reply is stored under the key by the caller. */
function act(tx: StoreTx, request: ToolRequest, nowMs: number, createdAt: string): Reply {
  const now = localClock(nowMs);
  switch (request.tool) {
    case "find_slots": {
      const day = findSlotsDay(request.arguments, now);
      return day.ok ? findSlotsReply(day.date, tx.takenOn(day.date), now) : day.reply;
    }
    case "book": {
      const parsed = parseBook(request.arguments);
      if (!parsed.ok) return parsed.reply;
      let id = appointmentId(randomInt(0, 2 ** 32) / 2 ** 32);
      while (tx.exists(id)) id = appointmentId(randomInt(0, 2 ** 32) / 2 ** 32);
      const decision = decideBook(parsed.args, { id, createdAt, now, call: request.call, taken: tx.liveAt(parsed.args.slot) !== undefined });
      if (decision.kind === "insert") tx.insert(decision.appointment);
      return decision.reply;
    }
    case "cancel": {
      const parsed = parseCancel(request.arguments);
      if (!parsed.ok) return parsed.reply;
      const decision = decideCancel(parsed.id, tx.live(parsed.id), request.call);
      if (decision.kind === "cancel") tx.cancel(decision.id, createdAt);
      return decision.reply;
    }
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function failure(status: number, error: string): Outcome {
  return { status, body: JSON.stringify({ error }) };
}

function methodNotAllowed(res: ServerResponse, allow: string): Outcome {
  res.setHeader("allow", allow);
  return failure(405, `use ${allow}`);
}

function errorOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    return typeof parsed.error === "string" ? parsed.error : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The body, or "too large" past MAX_BODY_BYTES. A too-large body is drained unread (up to
 * MAX_DRAIN_BYTES, so the sender can finish and read the 413), and the connection is closed after.
 */
function readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer | "too large"> {
  const declared = Number(req.headers["content-length"] ?? 0);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = declared > MAX_BODY_BYTES;
    const refuse = () => {
      res.setHeader("connection", "close");
      resolve("too large");
    };
    if (declared > MAX_DRAIN_BYTES) return refuse();
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        tooLarge = true;
        chunks.length = 0;
        if (size > MAX_DRAIN_BYTES) {
          req.pause();
          refuse();
        }
      } else if (!tooLarge) chunks.push(chunk);
    });
    req.on("end", () => (tooLarge ? refuse() : resolve(Buffer.concat(chunks))));
    req.on("error", reject);
  });
}
