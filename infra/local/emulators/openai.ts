// OpenAI-compatible HTTP emulator (node:http) for the real `openai` SDK: chat completions, streamed as
// SSE chunks in OpenAI's exact shape or answered whole, audio transcriptions, and the model list.
// Answers come from chat-answers.ts, paced by time-to-first-token and a token interval.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { parseWav } from "@voice/protocol";
import { z } from "zod";
import { answerFor, streamTokens } from "./chat-answers.js";

export interface OpenAiEmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Delay from request to first token (default 200). */
  firstTokenMs?: number;
  /** Delay between tokens (default 30). */
  tokenIntervalMs?: number;
  /** What /v1/audio/transcriptions hears in any audio (default "שלום"). */
  transcriptionText?: string;
  /** Ids GET /v1/models lists (default gpt-4o-mini, whisper-1); chat accepts any model. */
  models?: string[];
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
  /** The messages as sent. */
  messages: ChatMessage[];
  /** The whole answer the rule table gave, whether or not all of it was sent. */
  answer: string;
}

export interface OpenAiEmulatorStats {
  /** Chat completion requests received (valid or not). */
  requests: number;
  /** Chat completions answered to the end. */
  completed: number;
  /** Chat completions the client abandoned before the end (aborted stream or closed socket). */
  cancelled: number;
  transcriptions: number;
  /** The messages of the last valid chat completion request, as sent. */
  lastMessages: ChatMessage[];
  /** Valid chat completions in arrival order (the latest MAX_COMPLETIONS_KEPT). */
  completions: CompletionTimeline[];
}

export interface OpenAiEmulator {
  port: number;
  /** "http://127.0.0.1:<port>". */
  address: string;
  /** address + "/v1": OPENAI_BASE_URL, the SDK's baseURL. */
  baseURL: string;
  stats: OpenAiEmulatorStats;
  close(): Promise<void>;
}

/** Bounds the timelines kept, so a long-running `npm start` does not grow without end. */
const MAX_COMPLETIONS_KEPT = 500;

/** OpenAI's upload limit for transcriptions, also our body limit. */
const MAX_BODY_BYTES = 25 * 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null = null,
  ) {
    super(message);
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
  const stats: OpenAiEmulatorStats = { requests: 0, completed: 0, cancelled: 0, transcriptions: 0, lastMessages: [], completions: [] };

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
        return chatCompletion(parseChatRequest(await readBody(req)), res, arrivedAt);
      case "POST /v1/audio/transcriptions":
        return transcription(req, res);
      case "GET /v1/models":
        return sendJson(res, 200, {
          object: "list",
          data: settings.models.map((id) => ({ id, object: "model", created: 1_700_000_000, owned_by: "system" })),
        });
      default:
        throw new HttpError(404, `Invalid URL (${endpoint})`);
    }
  };

  const chatCompletion = async (request: z.infer<typeof ChatRequest>, res: ServerResponse, arrivedAt: number) => {
    stats.lastMessages = request.messages;
    const userTexts = request.messages.filter((message) => message.role === "user").map(textOf);
    const answer = answerFor(userTexts.at(-1) ?? "", userTexts.slice(0, -1));
    const tokens = streamTokens(answer);
    const timeline: CompletionTimeline = { startedAt: arrivedAt, cancelled: false, messages: request.messages, answer };
    stats.completions.push(timeline);
    if (stats.completions.length > MAX_COMPLETIONS_KEPT) stats.completions.shift();
    const meta = { id: `chatcmpl-${randomUUID().replaceAll("-", "")}`, created: Math.floor(Date.now() / 1000), model: request.model };
    const usage = {
      prompt_tokens: request.messages.reduce((sum, message) => sum + streamTokens(textOf(message)).length, 0),
      completion_tokens: tokens.length,
      total_tokens: 0,
    };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const gone = new AbortController();
    res.on("close", () => {
      if (res.writableFinished) return;
      stats.cancelled++;
      timeline.cancelled = true;
      timeline.endedAt = performance.now();
      gone.abort();
    });
    const wait = (ms: number) => sleep(ms, undefined, { signal: gone.signal });
    try {
      if (!request.stream) {
        await wait(settings.firstTokenMs + settings.tokenIntervalMs * Math.max(0, tokens.length - 1));
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
        const event = (data: object | string) => res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
        res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" });
        res.flushHeaders();
        await wait(settings.firstTokenMs);
        event(chunk({ role: "assistant", content: "", refusal: null }, null));
        for (const [i, token] of tokens.entries()) {
          if (i > 0) await wait(settings.tokenIntervalMs);
          event(chunk({ content: token }, null));
          timeline.firstTokenAt ??= performance.now();
        }
        event(chunk({}, "stop"));
        if (includeUsage) event({ ...meta, object: "chat.completion.chunk", choices: [], usage });
        event("[DONE]");
        res.end();
      }
      timeline.endedAt = performance.now();
      stats.completed++;
    } catch (error) {
      if (!gone.signal.aborted) throw error;
    }
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
    try {
      parseWav(new Uint8Array(await file.arrayBuffer()));
    } catch {
      throw new HttpError(400, "Invalid file format. The emulator accepts WAV (RIFF/WAVE) audio.", "invalid_value");
    }
    stats.transcriptions++;
    const format = form.get("response_format") ?? "json";
    if (format === "text") {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end(settings.transcriptionText);
    } else if (format === "json") {
      sendJson(res, 200, { text: settings.transcriptionText });
    } else {
      throw new HttpError(400, `response_format '${String(format)}' is not supported by the emulator (json, text)`, "invalid_value");
    }
  };

  const server = createServer({ noDelay: true }, (req, res) => {
    route(req, res).catch((error: unknown) => {
      const failure = error instanceof HttpError ? error : new HttpError(500, `emulator error: ${String(error)}`);
      log(`${req.method} ${req.url} -> ${failure.status}: ${failure.message}`);
      if (res.headersSent) res.destroy();
      else sendJson(res, failure.status, { error: { message: failure.message, type: "invalid_request_error", param: null, code: failure.code } });
    });
  });
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

function sendJson(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
