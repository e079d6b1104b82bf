// Test support: a slow or failing business system in front of the reference booking service. It
// forwards tool requests over real HTTP; a path can be held (each request counted as it arrives,
// with its idempotency key and arrival time) until released, or answered with a 503; a request the
// core gives up on while held is recorded as aborted and never forwarded.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** Forwards tool requests to `target`; a path can be held (counted as it arrives) until released, or failed. */
export class ToolGate {
  /** Requests as they arrived: path and idempotency key (`CallSid:tool_call_id`). */
  readonly arrived: Array<{ path: string; key: string; at: number }> = [];
  /** Requests the caller (the core) gave up on before they were answered. */
  readonly aborted: Array<{ path: string; key: string }> = [];
  private readonly held = new Map<string, Array<() => void>>();
  private readonly holding = new Set<string>();
  failing = new Set<string>();
  private server!: Server;
  url = "";

  constructor(private readonly target: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  hold(pathname: string): void {
    this.holding.add(pathname);
  }

  release(pathname: string): void {
    this.holding.delete(pathname);
    for (const go of this.held.get(pathname) ?? []) go();
    this.held.delete(pathname);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const pathname = req.url ?? "";
    const key = String(req.headers["idempotency-key"] ?? "");
    this.arrived.push({ path: pathname, key, at: performance.now() });
    res.once("close", () => {
      if (!res.writableFinished) this.aborted.push({ path: pathname, key });
    });
    if (this.failing.has(pathname)) {
      res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ error: "the calendar is down" }));
      return;
    }
    const forward = () => {
      if (res.destroyed) return; // given up on while held: the business never sees it
      const upstream = httpRequest(`${this.target}${pathname}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      req.pipe(upstream);
    };
    if (!this.holding.has(pathname)) return forward();
    this.held.set(pathname, [...(this.held.get(pathname) ?? []), forward]);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

