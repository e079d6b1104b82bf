// The HTTP tool caller against a real local HTTP server (node:http on 127.0.0.1) that checks every
// request's signature the way the contract tells a tool service to, and counts the requests.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createHttpToolCaller, judgeResponse, MAX_TOOL_RESPONSE_BYTES } from "./http-caller.js";
import type { ToolCallContext, ToolSpec } from "./types.js";

const SECRET = "tool-signing-secret-for-tests";

interface Seen {
  path: string;
  timestamp: string;
  signatureValid: boolean;
  idempotencyKey: string;
  body: Record<string, unknown>;
}

type Handler = (seen: Seen, res: ServerResponse, n: number) => void;
let handler: Handler = (_seen, res) => json(res, 200, { result: "default" });
let seen: Seen[] = [];

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
}

/** What a tool service must do: HMAC over "<timestamp>.<raw body>", compared in constant time, the timestamp within 5 minutes. */
function verify(req: IncomingMessage, raw: string): boolean {
  const timestamp = String(req.headers["x-voice-timestamp"]);
  const given = Buffer.from(String(req.headers["x-voice-signature"]));
  const expected = Buffer.from(`v1=${createHmac("sha256", SECRET).update(`${timestamp}.${raw}`).digest("hex")}`);
  return given.length === expected.length && timingSafeEqual(given, expected) && Math.abs(Date.now() - Number(timestamp)) <= 300_000;
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const raw = Buffer.concat(chunks).toString("utf8");
    const entry: Seen = {
      path: req.url ?? "",
      timestamp: String(req.headers["x-voice-timestamp"]),
      signatureValid: verify(req, raw) && req.method === "POST" && req.headers["content-type"] === "application/json",
      idempotencyKey: String(req.headers["idempotency-key"]),
      body: JSON.parse(raw) as Record<string, unknown>,
    };
    seen.push(entry);
    if (!entry.signatureValid) return json(res, 401, { error: "bad signature" });
    handler(entry, res, seen.length);
  });
});
let base = "";

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  seen = [];
});

function tool(overrides: Partial<ToolSpec> = {}): ToolSpec {
  return {
    name: "find_slots",
    description: "Free slots",
    parameters: { type: "object", properties: {} },
    endpoint: `${base}/tools/find_slots`,
    sideEffects: false,
    timeoutMs: 3000,
    ...overrides,
  };
}
const BOOK = () => tool({ name: "book", endpoint: `${base}/tools/book`, sideEffects: true });

function context(overrides: Partial<ToolCallContext> = {}): ToolCallContext {
  return { callSid: "CA-tools", from: "+972501234567", toolCallId: "call_1", signal: new AbortController().signal, ...overrides };
}

/** Distinct timestamps for each attempt, so a fresh signature is visible. */
function caller(options: Partial<Parameters<typeof createHttpToolCaller>[0]> = {}) {
  let tick = 0;
  return createHttpToolCaller({ secret: SECRET, now: () => Date.now() + tick++, ...options });
}

describe("createHttpToolCaller", () => {
  it("POSTs the signed request and returns the result", async () => {
    handler = (_s, res) => json(res, 200, { result: { date: "2026-12-07", slots: ["2026-12-07T09:30"] } });
    const outcome = await caller().call(tool(), { date: "2026-12-07" }, context());
    expect(outcome).toEqual({ ok: true, result: { date: "2026-12-07", slots: ["2026-12-07T09:30"] }, ms: expect.any(Number), attempts: 1 });
    expect(seen).toEqual([
      {
        path: "/tools/find_slots",
        timestamp: expect.stringMatching(/^\d{13}$/),
        signatureValid: true,
        idempotencyKey: "CA-tools:call_1",
        body: { tool: "find_slots", arguments: { date: "2026-12-07" }, call: { callSid: "CA-tools", from: "+972501234567" }, idempotencyKey: "CA-tools:call_1" },
      },
    ]);
  });

  it("takes a null result as a result", async () => {
    handler = (_s, res) => json(res, 200, { result: null });
    expect(await caller().call(tool(), {}, context())).toMatchObject({ ok: true, result: null });
  });

  it("is refused by the service when signed with another secret (the service's check works)", async () => {
    const outcome = await createHttpToolCaller({ secret: "another-secret-0123456789" }).call(tool(), {}, context());
    expect(outcome).toMatchObject({ ok: false, error: "bad signature", attempts: 1, timedOut: false });
  });

  it("gives a 4xx's error line, never retried even for a read-only tool", async () => {
    handler = (_s, res) => json(res, 409, { error: "the slot\n is taken" });
    expect(await caller().call(BOOK(), { slot: "x" }, context())).toEqual({ ok: false, error: "the slot is taken", ms: expect.any(Number), attempts: 1, timedOut: false });
    handler = (_s, res) => res.writeHead(404, { "content-type": "text/plain" }).end("nope");
    expect(await caller().call(tool(), {}, context())).toMatchObject({ ok: false, error: "HTTP 404 Not Found", attempts: 1 });
    expect(seen).toHaveLength(2);
  });

  it("retries a read-only tool once after a 5xx: same idempotency key, fresh timestamp and signature", async () => {
    handler = (_s, res, n) => (n === 1 ? json(res, 503, { error: "busy" }) : json(res, 200, { result: ["09:30"] }));
    expect(await caller().call(tool(), {}, context())).toMatchObject({ ok: true, result: ["09:30"], attempts: 2 });
    expect(seen).toHaveLength(2);
    expect(seen.every((s) => s.signatureValid && s.idempotencyKey === "CA-tools:call_1")).toBe(true);
    expect(seen[1]!.body).toEqual(seen[0]!.body);
    expect(seen[1]!.timestamp).not.toBe(seen[0]!.timestamp);
  });

  it("retries only once: two 5xx give the last error line", async () => {
    handler = (_s, res, n) => json(res, 500, { error: `failure ${n}` });
    expect(await caller().call(tool(), {}, context())).toMatchObject({ ok: false, error: "failure 2", attempts: 2, timedOut: false });
    expect(seen).toHaveLength(2);
  });

  it("never retries a side-effecting tool, on a 5xx or a network error", async () => {
    handler = (_s, res) => json(res, 500, { error: "database locked" });
    expect(await caller().call(BOOK(), { slot: "x" }, context())).toMatchObject({ ok: false, error: "database locked", attempts: 1 });
    expect(seen).toHaveLength(1);
    const nowhere = await closedPort();
    const unreachable = await caller().call({ ...BOOK(), endpoint: `http://127.0.0.1:${nowhere}/tools/book` }, {}, context());
    expect(unreachable).toMatchObject({ ok: false, error: expect.stringMatching(/^network error: .*ECONNREFUSED/), attempts: 1, timedOut: false });
  });

  it("retries a read-only tool once after a network error", async () => {
    const nowhere = await closedPort();
    const outcome = await caller().call(tool({ endpoint: `http://127.0.0.1:${nowhere}/t` }), {}, context());
    expect(outcome).toMatchObject({ ok: false, error: expect.stringMatching(/^network error: .*ECONNREFUSED/), attempts: 2, timedOut: false });
  });

  it("times out after the tool's timeoutMs when the service never answers, without a retry", async () => {
    handler = () => undefined;
    const outcome = await caller().call(tool({ timeoutMs: 300 }), {}, context());
    expect(outcome).toMatchObject({ ok: false, error: "timed out after 300 ms", attempts: 1, timedOut: true });
    expect(outcome.ms).toBeGreaterThanOrEqual(280);
    expect(outcome.ms).toBeLessThan(2000);
    expect(seen).toHaveLength(1);
  });

  it("times out when the headers come but the body stalls", async () => {
    handler = (_s, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"result": ');
    };
    const outcome = await caller().call(tool({ timeoutMs: 300 }), {}, context());
    expect(outcome).toMatchObject({ ok: false, timedOut: true, attempts: 1 });
    expect(outcome.ms).toBeLessThan(2000);
  });

  it("gives up at once, without a retry, when the turn's signal aborts", async () => {
    handler = () => undefined;
    const turn = new AbortController();
    setTimeout(() => turn.abort(), 100);
    const outcome = await caller().call(tool({ timeoutMs: 5000 }), {}, context({ signal: turn.signal }));
    expect(outcome).toMatchObject({ ok: false, error: "aborted", attempts: 1, timedOut: false });
    expect(outcome.ms).toBeLessThan(2000);
    expect(seen).toHaveLength(1);
    // Already aborted: nothing is sent.
    expect(await caller().call(tool(), {}, context({ signal: AbortSignal.abort() }))).toMatchObject({ ok: false, error: "aborted", attempts: 0 });
    expect(seen).toHaveLength(1);
  });

  it("fails with one line on a body that is not JSON, or JSON without a result", async () => {
    handler = (_s, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>\n<body>oops</body>\n</html>");
    expect(await caller().call(tool(), {}, context())).toMatchObject({ ok: false, error: "HTTP 200: the response is not JSON", attempts: 1 });
    handler = (_s, res) => json(res, 200, { slots: [] });
    expect(await caller().call(tool(), {}, context())).toMatchObject({ ok: false, error: 'HTTP 200: the response has no "result"', attempts: 1 });
    handler = (_s, res) => res.writeHead(502, { "content-type": "text/html" }).end("<html>bad gateway</html>");
    expect(await caller().call(BOOK(), {}, context())).toMatchObject({ ok: false, error: "HTTP 502 Bad Gateway", attempts: 1 });
  });

  it("refuses a body over the cap, declared or streamed", async () => {
    const big = JSON.stringify({ result: "x".repeat(MAX_TOOL_RESPONSE_BYTES) });
    handler = (_s, res) => res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(big) }).end(big);
    const error = `HTTP 200: the response is larger than ${MAX_TOOL_RESPONSE_BYTES} bytes`;
    expect(await caller().call(tool(), {}, context())).toMatchObject({ ok: false, error, attempts: 1 });
    handler = (_s, res) => {
      res.writeHead(200, { "content-type": "application/json" }); // chunked: no length declared
      for (let i = 0; i < 40; i++) res.write("x".repeat(8192));
      res.end();
    };
    expect(await caller().call(tool(), {}, context())).toMatchObject({ ok: false, error, attempts: 1 });
    handler = (_s, res) => json(res, 200, { result: "y".repeat(1000) });
    expect(await caller({ maxResponseBytes: 100 }).call(tool(), {}, context())).toMatchObject({ ok: false, error: "HTTP 200: the response is larger than 100 bytes" });
  });

  it("does not follow a redirect", async () => {
    handler = (_s, res) => res.writeHead(302, { location: "https://elsewhere.example/steal" }).end();
    expect(await caller().call(tool(), {}, context())).toMatchObject({ ok: false, error: "HTTP 302 Found (redirects are not followed)", attempts: 1 });
    expect(seen).toHaveLength(1);
  });

  it("never rejects, whatever fails", async () => {
    const throwing = createHttpToolCaller({
      secret: SECRET,
      fetch: () => {
        throw new Error("boom");
      },
    });
    expect(await throwing.call(tool(), {}, context())).toMatchObject({ ok: false, error: "network error: boom", attempts: 2 });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(await caller().call(tool(), cyclic, context())).toMatchObject({ ok: false, error: expect.stringMatching(/^tool call failed: /), timedOut: false });
  });
});

describe("judgeResponse", () => {
  it("reads the contract's answers", () => {
    expect(judgeResponse(200, "OK", '{"result":{"a":1}}')).toEqual({ ok: true, result: { a: 1 } });
    expect(judgeResponse(409, "Conflict", '{"error":"taken"}')).toEqual({ ok: false, error: "taken", retryable: false });
    expect(judgeResponse(503, "Service Unavailable", "")).toEqual({ ok: false, error: "HTTP 503 Service Unavailable", retryable: true });
    expect(judgeResponse(500, "", '{"error":""}')).toEqual({ ok: false, error: "HTTP 500", retryable: true });
    expect(judgeResponse(400, "Bad Request", `{"error":"${"e".repeat(1000)}"}`)).toMatchObject({ error: expect.stringMatching(/^e{299}…$/) });
  });
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createTcpServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
