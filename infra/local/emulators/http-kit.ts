// What the emulators' plain HTTP servers share (node:http): an error carrying OpenAI's error shape, a
// bounded body reader, JSON answers, and the call a request names.
import type { IncomingMessage, ServerResponse } from "node:http";
import { CALL_ID_HEADER } from "./faults.js";

/** An error answer: status, message, and OpenAI's `code` and `type` (plus headers, e.g. retry-after). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null = null,
    readonly type = "invalid_request_error",
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The whole body, or a 413 HttpError past `maxBytes`. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new HttpError(413, `request body exceeds ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The body parsed as JSON, or OpenAI's 400 for a body that is not. */
export function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)");
  }
}

/** The call a request names in its x-call-id header, if any. */
export function callIdOf(req: IncomingMessage): string | undefined {
  const value = req.headers[CALL_ID_HEADER];
  return typeof value === "string" && value.trim() ? value.trim() : undefined;
}

export function sendJson(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, "content-type": "application/json" }).end(JSON.stringify(body));
}

/** Answers `error` in OpenAI's error shape, or drops the connection if the answer had begun. */
export function sendError(res: ServerResponse, error: HttpError): void {
  if (res.headersSent) res.destroy();
  else sendJson(res, error.status, { error: { message: error.message, type: error.type, param: null, code: error.code } }, error.headers);
}
