// OpenAI-compatible HTTP emulator (node:http) for the real `openai` SDK: chat completions, streamed as
// SSE chunks in OpenAI's exact shape or answered whole, audio transcriptions, and the model list.
// Answers come from chat-answers.ts, paced by time-to-first-token and a token interval. Faults
// (OpenAI's 429/500/503, a stream cut mid-way, stalls, a 200 whose stream is malformed) are set per
// test with injectChatFault and injectTranscriptionFault.
import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { parseWav } from "@voice/protocol";
import { z } from "zod";
import { answerFor, streamTokens } from "./chat-answers.js";
import { CALL_ID_HEADER, FaultSchedule, type FaultWhen, type ScheduledFault } from "./faults.js";

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
      /** Streamed: after `afterTokens` content tokens (0: after the role chunk; at most the whole answer),
       *  send half of the next event and destroy the socket: no finish chunk, no [DONE]. Not streamed:
       *  destroy the socket instead of answering. */
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
 * - non-string-content: the next token as a list of content parts instead of a string, then the rest;
 * - error-event: an `{"error": ...}` event (OpenAI's way of failing mid-stream), then the end;
 * - no-done: the whole answer and its finish chunk, then the end without `data: [DONE]`;
 * - truncated: the end, cleanly, with neither finish chunk nor [DONE];
 * - html: a proxy's HTML error page with status 200 and content-type text/html;
 * - huge: the answer repeated to HUGE_ANSWER_CHARS characters in one chunk, then finish and [DONE].
 */
export type MalformedChatShape = "not-json" | "no-choices" | "non-string-content" | "error-event" | "no-done" | "truncated" | "html" | "huge";

export interface MalformedChatFault {
  kind: "malformed";
  shape: MalformedChatShape;
  /** Content tokens sent as usual before the fault (not-json, no-choices, non-string-content,
   *  error-event, truncated; default 0, at most the whole answer). A request without `stream`
   *  gets the html page whatever the shape. */
  afterTokens?: number;
}

/** The `huge` shape's single chunk: far past any spoken answer. */
export const HUGE_ANSWER_CHARS = 200_000;

/** What a misconfigured proxy in front of the API answers, with status 200. */
const PROXY_ERROR_PAGE =
  "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n";

/** How a transcription request misbehaves: an error answer, or none at all until the client gives up. */
export type TranscriptionFault = HttpFault | { kind: "stall" };

export interface OpenAiEmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Delay from request to first token (default 200). */
  firstTokenMs?: number;
  /** Delay between tokens (default 30). */
  tokenIntervalMs?: number;
  /** What /v1/audio/transcriptions hears in any audio (default "שלום"), unless transcriptFor knows better. */
  transcriptionText?: string;
  /**
   * What a transcription request carrying the x-call-id header heard: the speech emulator's pending
   * script line for that call, which the request takes (startEmulators wires this). Undefined: the
   * call is unknown, so transcriptionText is the answer. The same audio sent again for the same call
   * (the SDK's own retry) gets the same text without taking another line.
   */
  transcriptFor?: (callId: string) => string | undefined;
  /** Faults from the start, as injectChatFault / injectTranscriptionFault add them. */
  chatFaults?: ScheduledFault<ChatFault>[];
  transcriptionFaults?: ScheduledFault<TranscriptionFault>[];
  /** Ids GET /v1/models lists (default gpt-4o-mini, whisper-1); chat accepts any model. */
  models?: string[];
  /** How long an idle keep-alive connection stays open (default 65000, as API front ends keep them
   *  a minute or more; Node's own default of 5 s would hide a client that lets them go). */
  keepAliveMs?: number;
  log?: (line: string) => void;
}

const ChatMessage = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string(), text: z.string().optional() })), z.null()]).optional(),
});
export type ChatMessage = z.infer<typeof ChatMessage>;

const ChatRequest = z.looseObject({
  model: z.string().min(1),
  messages: z.array(ChatMessage).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
});

/**
 * One chat completion's timeline. Times are performance.now() of the process running the emulator
 * (in tests and `npm start` the same process as the call simulator, so the two compare directly).
 */
export interface CompletionTimeline {
  /** The request arrived. */
  startedAt: number;
  /** The first content token was written (a non-streamed answer: the whole answer was). */
  firstTokenAt?: number;
  /** The last byte was written, or the client went away (see `cancelled`). */
  endedAt?: number;
  /** The client went away before the end (an aborted stream). */
  cancelled: boolean;
  /** The x-call-id header of the request, when it had one. */
  callId?: string;
  /** The messages as sent. */
  messages: ChatMessage[];
  /** The whole answer the rule table gave, whether or not all of it was sent. */
  answer: string;
  /** The fault this completion was given, if any. */
  fault?: ChatFault["kind"];
}

export interface OpenAiEmulatorStats {
  /** Chat completion requests received (valid or not). */
  requests: number;
  /** Chat completions answered to the end. */
  completed: number;
  /** Chat completions the client abandoned before the end (aborted stream or closed socket). */
  cancelled: number;
  transcriptions: number;
  /** Chat completions and transcriptions given a fault. */
  chatFaults: number;
  transcriptionFaults: number;
  /** The messages of the last valid chat completion request, as sent. */
  lastMessages: ChatMessage[];
  /** Valid chat completions in arrival order (the latest MAX_COMPLETIONS_KEPT). */
  completions: CompletionTimeline[];
  /** TCP connections accepted: each one a handshake the client paid. */
  connections: number;
  /** GET /v1/models requests (what a client sends to open or keep a connection warm). */
  modelLists: number;
}

export interface OpenAiEmulator {
  port: number;
  /** "http://127.0.0.1:<port>". */
  address: string;
  /** address + "/v1": OPENAI_BASE_URL, the SDK's baseURL. */
  baseURL: string;
  stats: OpenAiEmulatorStats;
  /** Gives `fault` to the (valid) chat completion requests `when` picks, counted from now on (default:
   *  the next one). A `when.callId` matches requests with that x-call-id header. */
  injectChatFault(fault: ChatFault, when?: FaultWhen): void;
  /** The same for /v1/audio/transcriptions. */
  injectTranscriptionFault(fault: TranscriptionFault, when?: FaultWhen): void;
  /** Drops every fault not yet given to a request (a stalled request stays stalled). */
  clearFaults(): void;
  close(): Promise<void>;
}

/** One step of a malformed stream after its role chunk: a content token (as the fault shapes it), raw
 *  bytes, a whole event, the finish chunk, or [DONE]. */
type MalformedItem = { content: string | object } | { raw: string } | { event: object } | { finish: true } | { done: true };

/** What a stream given `fault` sends after its role chunk, in order (see MalformedChatShape). */
function malformedStream(fault: MalformedChatFault, tokens: string[], answer: string, meta: object): MalformedItem[] {
  const at = Math.min(fault.afterTokens ?? 0, tokens.length);
  const before = tokens.slice(0, at).map((content) => ({ content }));
  const after = tokens.slice(at).map((content) => ({ content }));
  const ending: MalformedItem[] = [{ finish: true }, { done: true }];
  switch (fault.shape) {
    case "not-json":
      return [...before, { raw: 'data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":\n\n' }, ...after, ...ending];
    case "no-choices":
      return [...before, { event: { ...meta, object: "chat.completion.chunk" } }, ...after, ...ending];
    case "non-string-content":
      return [...before, ...after.slice(0, 1).map(({ content }) => ({ content: [{ type: "text", text: content }] })), ...after.slice(1), ...ending];
    case "error-event":
      return [...before, { event: { error: { message: "The server had an error while processing your request. Sorry about that!", type: "server_error", param: null, code: null } } }];
    case "no-done":
      return [...tokens.map((content) => ({ content })), { finish: true }];
    case "truncated":
      return before;
    case "huge":
      return [{ content: answer.repeat(Math.ceil(HUGE_ANSWER_CHARS / answer.length)).slice(0, HUGE_ANSWER_CHARS) }, ...ending];
    case "html":
      return []; // answered before any stream begins
  }
}

/** Bounds the timelines kept, so a long-running `npm start` does not grow without end. */
const MAX_COMPLETIONS_KEPT = 500;

/** Bounds the per-call transcription memory likewise. */
const MAX_CALLS_KEPT = 1000;

/** OpenAI's upload limit for transcriptions, also our body limit. */
const MAX_BODY_BYTES = 25 * 1024 * 1024;

class HttpError extends Error {
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

/** OpenAI's own answer for an injected error status. */
function faultError(fault: HttpFault, model: string): HttpError {
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

export async function startOpenAiEmulator(options: OpenAiEmulatorOptions = {}): Promise<OpenAiEmulator> {
  const settings = {
    firstTokenMs: options.firstTokenMs ?? 200,
    tokenIntervalMs: options.tokenIntervalMs ?? 30,
    transcriptionText: options.transcriptionText ?? "שלום",
    models: options.models ?? ["gpt-4o-mini", "whisper-1"],
  };
  const log = options.log ?? ((line: string) => console.error(`[openai-emulator] ${line}`));
  const stats: OpenAiEmulatorStats = {
    requests: 0,
    completed: 0,
    cancelled: 0,
    transcriptions: 0,
    chatFaults: 0,
    transcriptionFaults: 0,
    lastMessages: [],
    completions: [],
    connections: 0,
    modelLists: 0,
  };
  const chatFaults = new FaultSchedule(options.chatFaults);
  const transcriptionFaults = new FaultSchedule(options.transcriptionFaults);
  /** Per call, the last transcription's audio digest and text, so a retry of it is answered alike. */
  const heard = new Map<string, { digest: string; text: string }>();

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const arrivedAt = performance.now();
    const path = new URL(req.url ?? "/", "http://emulator").pathname;
    const endpoint = `${req.method} ${path}`;
    if (endpoint === "POST /v1/chat/completions") stats.requests++;
    if (!req.headers.authorization?.startsWith("Bearer ")) {
      throw new HttpError(401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth.");
    }
    switch (endpoint) {
      case "POST /v1/chat/completions":
        return chatCompletion(parseChatRequest(await readBody(req)), callIdOf(req), res, arrivedAt);
      case "POST /v1/audio/transcriptions":
        return transcription(req, res);
      case "GET /v1/models":
        stats.modelLists++;
        return sendJson(res, 200, {
          object: "list",
          data: settings.models.map((id) => ({ id, object: "model", created: 1_700_000_000, owned_by: "system" })),
        });
      default:
        throw new HttpError(404, `Invalid URL (${endpoint})`);
    }
  };

  const chatCompletion = async (request: z.infer<typeof ChatRequest>, callId: string | undefined, res: ServerResponse, arrivedAt: number) => {
    stats.lastMessages = request.messages;
    const userTexts = request.messages.filter((message) => message.role === "user").map(textOf);
    const answer = answerFor(userTexts.at(-1) ?? "", userTexts.slice(0, -1));
    const tokens = streamTokens(answer);
    const fault = chatFaults.take(callId);
    const timeline: CompletionTimeline = {
      startedAt: arrivedAt,
      cancelled: false,
      ...(callId !== undefined && { callId }),
      messages: request.messages,
      answer,
      ...(fault && { fault: fault.kind }),
    };
    stats.completions.push(timeline);
    if (stats.completions.length > MAX_COMPLETIONS_KEPT) stats.completions.shift();
    if (fault) stats.chatFaults++;
    if (fault?.kind === "http") {
      timeline.endedAt = performance.now();
      throw faultError(fault, request.model);
    }
    const meta = { id: `chatcmpl-${randomUUID().replaceAll("-", "")}`, created: Math.floor(Date.now() / 1000), model: request.model };
    const usage = {
      prompt_tokens: request.messages.reduce((sum, message) => sum + streamTokens(textOf(message)).length, 0),
      completion_tokens: tokens.length,
      total_tokens: 0,
    };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const gone = new AbortController();
    /** The emulator destroyed the socket itself (a cut fault): not the client's doing. */
    let cut = false;
    /** Destroys the socket, after the first half of `partly` when given: a connection lost mid-event. */
    const cutNow = (partly?: string) => {
      cut = true;
      timeline.endedAt = performance.now();
      if (partly === undefined) return void res.destroy();
      res.write(partly.slice(0, Math.floor(partly.length / 2)), () => res.destroy());
    };
    res.on("close", () => {
      if (res.writableFinished || cut) return;
      stats.cancelled++;
      timeline.cancelled = true;
      timeline.endedAt = performance.now();
      gone.abort();
    });
    const wait = (ms: number) => sleep(ms, undefined, { signal: gone.signal });
    const firstTokenMs = settings.firstTokenMs + (fault?.kind === "slow" ? fault.delayMs : 0);
    // A stall leaves the request open with nothing (more) sent; the close handler sees the client go.
    if (fault?.kind === "stall" && !fault.afterHeaders) return;
    try {
      if (fault?.kind === "malformed" && (fault.shape === "html" || !request.stream)) {
        await wait(firstTokenMs);
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PROXY_ERROR_PAGE);
      } else if (!request.stream) {
        if (fault?.kind === "stall") return void res.writeHead(200, { "content-type": "application/json" }).flushHeaders();
        await wait(firstTokenMs + settings.tokenIntervalMs * Math.max(0, tokens.length - 1));
        if (fault?.kind === "cut") return cutNow();
        timeline.firstTokenAt = performance.now();
        sendJson(res, 200, {
          ...meta,
          object: "chat.completion",
          choices: [{ index: 0, message: { role: "assistant", content: tokens.join(""), refusal: null }, logprobs: null, finish_reason: "stop" }],
          usage,
        });
      } else {
        const includeUsage = request.stream_options?.include_usage === true;
        const chunk = (delta: object, finishReason: string | null) => ({
          ...meta,
          object: "chat.completion.chunk",
          choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
          ...(includeUsage ? { usage: null } : {}),
        });
        const sse = (data: object | string) => `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
        const event = (data: object | string) => res.write(sse(data));
        res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" });
        res.flushHeaders();
        if (fault?.kind === "stall") return;
        await wait(firstTokenMs);
        event(chunk({ role: "assistant", content: "", refusal: null }, null));
        if (fault?.kind === "malformed") {
          let tokensSent = 0;
          for (const item of malformedStream(fault, tokens, answer, meta)) {
            if ("raw" in item) res.write(item.raw);
            else if ("event" in item) event(item.event);
            else if ("finish" in item) event(chunk({}, "stop"));
            else if ("done" in item) event("[DONE]");
            else {
              if (tokensSent++ > 0) await wait(settings.tokenIntervalMs);
              event(chunk({ content: item.content }, null));
              timeline.firstTokenAt ??= performance.now();
            }
          }
          res.end();
        } else {
          // A cut comes half-way through the event after the last whole token: the SDK parses an event
          // only once bytes after it arrive, so the client still gets every whole token.
          const cutAfter = fault?.kind === "cut" ? Math.min(fault.afterTokens, tokens.length) : undefined;
          for (const [i, token] of tokens.entries()) {
            if (i > 0) await wait(settings.tokenIntervalMs);
            if (i === cutAfter) return cutNow(sse(chunk({ content: token }, null)));
            event(chunk({ content: token }, null));
            timeline.firstTokenAt ??= performance.now();
          }
          if (cutAfter === tokens.length) return cutNow(sse(chunk({}, "stop")));
          event(chunk({}, "stop"));
          if (includeUsage) event({ ...meta, object: "chat.completion.chunk", choices: [], usage });
          event("[DONE]");
          res.end();
        }
      }
      timeline.endedAt = performance.now();
      stats.completed++;
    } catch (error) {
      if (!gone.signal.aborted) throw error;
    }
  };

  /** What the audio says: the call's pending script line when the speech emulator knows the call. */
  const transcriptOf = (callId: string | undefined, audio: Uint8Array): string => {
    if (callId === undefined || !options.transcriptFor) return settings.transcriptionText;
    const digest = createHash("sha256").update(audio).digest("hex");
    const last = heard.get(callId);
    if (last?.digest === digest) return last.text;
    const text = options.transcriptFor(callId);
    if (text === undefined) return settings.transcriptionText;
    heard.delete(callId);
    heard.set(callId, { digest, text });
    if (heard.size > MAX_CALLS_KEPT) heard.delete(heard.keys().next().value!);
    return text;
  };

  const transcription = async (req: IncomingMessage, res: ServerResponse) => {
    const type = req.headers["content-type"] ?? "";
    if (!type.startsWith("multipart/form-data")) throw new HttpError(400, "Expected a multipart/form-data body");
    const form = await new Response(await readBody(req), { headers: { "content-type": type } }).formData().catch(() => {
      throw new HttpError(400, "Could not parse multipart form");
    });
    const file = form.get("file");
    if (!(file instanceof Blob)) throw new HttpError(400, "you must provide a file", "missing_required_parameter");
    if (!form.get("model")) throw new HttpError(400, "you must provide a model parameter", "missing_required_parameter");
    const audio = new Uint8Array(await file.arrayBuffer());
    try {
      parseWav(audio);
    } catch {
      throw new HttpError(400, "Invalid file format. The emulator accepts WAV (RIFF/WAVE) audio.", "invalid_value");
    }
    const format = form.get("response_format") ?? "json";
    if (format !== "text" && format !== "json") {
      throw new HttpError(400, `response_format '${String(format)}' is not supported by the emulator (json, text)`, "invalid_value");
    }
    stats.transcriptions++;
    const callId = callIdOf(req);
    // Taken before any fault: the caller has moved on whether or not this request is answered.
    const text = transcriptOf(callId, audio);
    const fault = transcriptionFaults.take(callId);
    if (fault) stats.transcriptionFaults++;
    if (fault?.kind === "http") throw faultError(fault, String(form.get("model")));
    if (fault?.kind === "stall") return;
    if (format === "text") res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end(text);
    else sendJson(res, 200, { text });
  };

  const server = createServer({ noDelay: true }, (req, res) => {
    route(req, res).catch((error: unknown) => {
      const failure = error instanceof HttpError ? error : new HttpError(500, `emulator error: ${String(error)}`);
      log(`${req.method} ${req.url} -> ${failure.status}: ${failure.message}`);
      if (res.headersSent) res.destroy();
      else sendJson(res, failure.status, { error: { message: failure.message, type: failure.type, param: null, code: failure.code } }, failure.headers);
    });
  });
  server.keepAliveTimeout = options.keepAliveMs ?? 65_000;
  server.on("connection", () => stats.connections++);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const address = `http://127.0.0.1:${port}`;
  return {
    port,
    address,
    baseURL: `${address}/v1`,
    stats,
    injectChatFault: (fault, when) => chatFaults.add(fault, when),
    injectTranscriptionFault: (fault, when) => transcriptionFaults.add(fault, when),
    clearFaults: () => {
      chatFaults.clear();
      transcriptionFaults.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function parseChatRequest(body: Buffer): z.infer<typeof ChatRequest> {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)");
  }
  const parsed = ChatRequest.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new HttpError(400, `Invalid '${issue.path.join(".") || "body"}': ${issue.message}`, "invalid_value");
  }
  return parsed.data;
}

/** A message's text: the string content, or its text parts joined. */
function textOf(message: ChatMessage): string {
  const content = message.content;
  if (typeof content === "string") return content;
  return (content ?? []).map((part) => part.text ?? "").join(" ");
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The call a request names in its x-call-id header, if any. */
function callIdOf(req: IncomingMessage): string | undefined {
  const value = req.headers[CALL_ID_HEADER];
  return typeof value === "string" && value.trim() ? value.trim() : undefined;
}

function sendJson(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, "content-type": "application/json" }).end(JSON.stringify(body));
}
