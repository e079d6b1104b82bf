// The real ToolCaller: each tool call is a signed POST to the tool's endpoint (sign.ts), bounded by
// the tool's timeoutMs (all attempts together) and by the turn's signal. A read-only tool is tried
// once more after a network error or a 5xx, with the same idempotency key and a fresh signature; a
// side-effecting tool never is (its key is what protects a resumed core that repeats the call).
// Never throws: every failure becomes an outcome with one line for the model.
import { toolRequest } from "./sign.js";
import type { ToolCallContext, ToolCaller, ToolOutcome, ToolSpec } from "./types.js";

/** A tool's answer larger than this is refused (it is for a model's context, not a download). */
export const MAX_TOOL_RESPONSE_BYTES = 256 * 1024;
/** A failure line longer than this is cut: it goes to the model and to the logs. */
const MAX_ERROR_CHARS = 300;

export interface HttpToolCallerOptions {
  /** TOOL_SIGNING_SECRET. */
  secret: string;
  /** globalThis.fetch when omitted. */
  fetch?: typeof globalThis.fetch;
  /** Wall clock (unix ms) for the request's timestamp; Date.now when omitted. */
  now?: () => number;
  /** MAX_TOOL_RESPONSE_BYTES when omitted. */
  maxResponseBytes?: number;
}

/** One attempt's verdict: a result, or a failure line and whether another attempt may fix it. */
type Attempt = { ok: true; result: unknown } | { ok: false; error: string; retryable: boolean };

class ResponseTooLarge extends Error {}

/** One line, bounded: whitespace runs (newlines too) become one space. */
export function oneLine(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > MAX_ERROR_CHARS ? `${line.slice(0, MAX_ERROR_CHARS - 1)}…` : line;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * A response -> the attempt's verdict. 2xx: JSON `{"result": ...}`; otherwise the service's
 * `{"error": "<one line>"}`, else the status line. Only a 5xx may be retried.
 */
export function judgeResponse(status: number, statusText: string, body: string): Attempt {
  const json = parseJson(body);
  if (status >= 200 && status < 300) {
    if (!json.ok) return { ok: false, error: `HTTP ${status}: the response is not JSON`, retryable: false };
    if (!isRecord(json.value) || !("result" in json.value)) return { ok: false, error: `HTTP ${status}: the response has no "result"`, retryable: false };
    return { ok: true, result: json.value.result };
  }
  const given = json.ok && isRecord(json.value) && typeof json.value.error === "string" ? oneLine(json.value.error) : "";
  const statusLine = oneLine(`HTTP ${status} ${statusText}${status >= 300 && status < 400 ? " (redirects are not followed)" : ""}`);
  return { ok: false, error: given || statusLine, retryable: status >= 500 };
}

/** The body as text, refused past `cap` bytes (by its declared length, or as it arrives). */
async function readCapped(response: Response, cap: number): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (!response.body) return "";
  if (Number.isFinite(declared) && declared > cap) {
    await response.body.cancel().catch(() => undefined);
    throw new ResponseTooLarge();
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > cap) {
      await reader.cancel().catch(() => undefined);
      throw new ResponseTooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** What a failed fetch says, as one line (undici hides the reason in `cause`). */
function networkError(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
  const text = cause ? cause.message || (cause as NodeJS.ErrnoException).code || cause.name : error instanceof Error ? error.message : String(error);
  return oneLine(`network error: ${text || "unknown"}`);
}

export function createHttpToolCaller(options: HttpToolCallerOptions): ToolCaller {
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const now = options.now ?? Date.now;
  const cap = options.maxResponseBytes ?? MAX_TOOL_RESPONSE_BYTES;

  async function attempt(tool: ToolSpec, args: unknown, context: ToolCallContext, signal: AbortSignal): Promise<Attempt> {
    const request = toolRequest(tool, args, context, options.secret, now());
    let response: Response;
    try {
      response = await doFetch(request.url, { method: "POST", headers: request.headers, body: request.body, signal, redirect: "manual" });
    } catch (error) {
      return { ok: false, error: networkError(error), retryable: true };
    }
    try {
      return judgeResponse(response.status, response.statusText, await readCapped(response, cap));
    } catch (error) {
      if (error instanceof ResponseTooLarge) return { ok: false, error: `HTTP ${response.status}: the response is larger than ${cap} bytes`, retryable: false };
      return { ok: false, error: networkError(error), retryable: true };
    }
  }

  return {
    async call(tool, args, context): Promise<ToolOutcome> {
      const started = performance.now();
      const ms = () => Math.round(performance.now() - started);
      let attempts = 0;
      const aborted = (): ToolOutcome => ({ ok: false, error: "aborted", ms: ms(), attempts, timedOut: false });
      try {
        const deadline = AbortSignal.timeout(tool.timeoutMs);
        const timedOut = (): ToolOutcome => ({ ok: false, error: `timed out after ${tool.timeoutMs} ms`, ms: ms(), attempts, timedOut: true });
        const signal = AbortSignal.any([context.signal, deadline]);
        const maxAttempts = tool.sideEffects ? 1 : 2;
        let failure = "no attempt made";
        while (attempts < maxAttempts) {
          if (context.signal.aborted) return aborted();
          if (deadline.aborted) return timedOut();
          attempts += 1;
          const outcome = await attempt(tool, args, context, signal);
          // A result that arrived is the truth, even if the turn was aborted meanwhile.
          if (outcome.ok) return { ok: true, result: outcome.result, ms: ms(), attempts };
          if (context.signal.aborted) return aborted();
          if (deadline.aborted) return timedOut();
          failure = outcome.error;
          if (!outcome.retryable) break;
        }
        return { ok: false, error: failure, ms: ms(), attempts, timedOut: false };
      } catch (error) {
        // Nothing above should throw (a bad timeoutMs, arguments that cannot be serialised): still an outcome.
        if (context.signal.aborted) return aborted();
        return { ok: false, error: oneLine(`tool call failed: ${error instanceof Error ? error.message : String(error)}`), ms: ms(), attempts, timedOut: false };
      }
    },
  };
}
