// How the OpenAI emulator misbehaves when a test asks it to: the faults a chat completion or a
// transcription can be given, OpenAI's own error answers for the injected statuses, and what a
// malformed 200 stream sends, in order.
import { HttpError } from "./http-kit.js";

/** An error answer in OpenAI's shape (status, body, and for 429 a retry-after header). */
export interface HttpFault {
  kind: "http";
  status: 429 | 500 | 503;
  /** 429 only: the retry-after header, in seconds (default 1; the SDK takes fractions). */
  retryAfterSeconds?: number;
}

/** How a chat completion request misbehaves. */
export type ChatFault =
  | HttpFault
  | {
      /** Streamed: after `afterTokens` pieces (content tokens, or a tool call's argument pieces; 0:
       *  after the first chunk; at most the whole answer), send half of the next event and destroy
       *  the socket: no finish chunk, no [DONE]. Not streamed: destroy the socket instead of answering. */
      kind: "cut";
      afterTokens: number;
    }
  | {
      /** Send nothing until the client gives up: no status line at all, or with `afterHeaders` the 200
       *  and its headers and then nothing (a stall before the first token). */
      kind: "stall";
      afterHeaders?: boolean;
    }
  | {
      /** The first token comes `delayMs` later than firstTokenMs. */
      kind: "slow";
      delayMs: number;
    }
  | MalformedChatFault;

/**
 * How a 200 answer breaks the stream format, on the wire as a buggy endpoint or proxy would send it:
 * - not-json: a data line that is not JSON (a truncated chunk), then the rest of the answer;
 * - no-choices: a chunk without `choices`, then the rest;
 * - non-string-content: the next token as a list of content parts instead of a string (a tool call:
 *   its next arguments piece so), then the rest;
 * - error-event: an `{"error": ...}` event (OpenAI's way of failing mid-stream), then the end;
 * - no-done: the whole answer and its finish chunk, then the end without `data: [DONE]`;
 * - truncated: the end, cleanly, with neither finish chunk nor [DONE];
 * - html: a proxy's HTML error page with status 200 and content-type text/html;
 * - huge: the answer (a tool call: its arguments) repeated to HUGE_ANSWER_CHARS characters in one
 *   chunk, then finish and [DONE].
 */
export type MalformedChatShape = "not-json" | "no-choices" | "non-string-content" | "error-event" | "no-done" | "truncated" | "html" | "huge";

export interface MalformedChatFault {
  kind: "malformed";
  shape: MalformedChatShape;
  /** Pieces sent as usual before the fault (not-json, no-choices, non-string-content, error-event,
   *  truncated; default 0, at most the whole answer). A request without `stream` gets the html page
   *  whatever the shape. */
  afterTokens?: number;
}

/** How a transcription request misbehaves: an error answer, or none at all until the client gives up. */
export type TranscriptionFault = HttpFault | { kind: "stall" };

/** The `huge` shape's single chunk: far past any spoken answer. */
export const HUGE_ANSWER_CHARS = 200_000;

/** What a misconfigured proxy in front of the API answers, with status 200. */
export const PROXY_ERROR_PAGE =
  "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n";

/** OpenAI's own answer for an injected error status. */
export function faultError(fault: HttpFault, model: string): HttpError {
  switch (fault.status) {
    case 429: {
      const seconds = fault.retryAfterSeconds ?? 1;
      return new HttpError(
        429,
        `Rate limit reached for ${model} in organization org-emulator on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in ${seconds}s. Visit https://platform.openai.com/account/rate-limits to learn more.`,
        "rate_limit_exceeded",
        "requests",
        { "retry-after": String(seconds) },
      );
    }
    case 500:
      return new HttpError(500, "The server had an error while processing your request. Sorry about that!", null, "server_error");
    case 503:
      return new HttpError(503, "The server is overloaded or not ready yet.", null, "server_error");
  }
}

/** One step of a malformed stream after its first chunk: a piece (a delta, possibly malformed), raw
 *  bytes, a whole event, the finish chunk, or [DONE]. */
export type MalformedItem = { piece: object } | { raw: string } | { event: object } | { finish: true } | { done: true };

/** How an answer's pieces are broken by the shapes that change a piece. */
export interface PieceShapes {
  /** The piece with its text as a list of content parts instead of a string. */
  asParts(piece: object): object;
  /** One piece holding the whole answer repeated to HUGE_ANSWER_CHARS characters. */
  huge(): object;
}

/** What a stream given `fault` sends after its first chunk, in order (see MalformedChatShape). */
export function malformedStream(fault: MalformedChatFault, pieces: object[], shapes: PieceShapes, meta: object): MalformedItem[] {
  const at = Math.min(fault.afterTokens ?? 0, pieces.length);
  const before = pieces.slice(0, at).map((piece) => ({ piece }));
  const after = pieces.slice(at).map((piece) => ({ piece }));
  const ending: MalformedItem[] = [{ finish: true }, { done: true }];
  switch (fault.shape) {
    case "not-json":
      return [...before, { raw: 'data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":\n\n' }, ...after, ...ending];
    case "no-choices":
      return [...before, { event: { ...meta, object: "chat.completion.chunk" } }, ...after, ...ending];
    case "non-string-content":
      return [...before, ...after.slice(0, 1).map(({ piece }) => ({ piece: shapes.asParts(piece) })), ...after.slice(1), ...ending];
    case "error-event":
      return [...before, { event: { error: { message: "The server had an error while processing your request. Sorry about that!", type: "server_error", param: null, code: null } } }];
    case "no-done":
      return [...pieces.map((piece) => ({ piece })), { finish: true }];
    case "truncated":
      return before;
    case "huge":
      return [{ piece: shapes.huge() }, ...ending];
    case "html":
      return []; // answered before any stream begins
  }
}
