// One chat completion on the wire: the answer chosen (a call summary by chat-summary.ts, the tool
// rules in chat-tools.ts, else the rule table in chat-answers.ts), then sent whole or streamed as
// OpenAI streams it (chat-wire.ts), paced by time-to-first-token and a token interval, or broken as
// the completion's fault says (chat-faults.ts).
// What happened is recorded in the emulator's stats: the completion's timeline, and per call the
// tools offered and the tool calls sent.
import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { answerFor, streamTokens } from "./chat-answers.js";
import { faultError, malformedStream, PROXY_ERROR_PAGE, type ChatFault } from "./chat-faults.js";
import { summaryReply } from "./chat-summary.js";
import { toolReply } from "./chat-tools.js";
import { newToolCallId, offeredTools, replyWire, textOf, type ChatMessage, type ChatRequest, type EmittedToolCall, type Reply } from "./chat-wire.js";
import type { FaultSchedule } from "./faults.js";
import { sendJson } from "./http-kit.js";

/**
 * One chat completion's timeline. Times are performance.now() of the process running the emulator
 * (in tests and `npm start` the same process as the call simulator, so the two compare directly).
 */
export interface CompletionTimeline {
  /** The request arrived. */
  startedAt: number;
  /** The first content token was written (a streamed tool call: its first chunk, which carries the
   *  call's id and name; a non-streamed answer: the whole answer was). */
  firstTokenAt?: number;
  /** The last byte was written, or the client went away (see `cancelled`). */
  endedAt?: number;
  /** The client went away before the end (an aborted stream). */
  cancelled: boolean;
  /** The x-call-id header of the request, when it had one. */
  callId?: string;
  /** The messages as sent. */
  messages: ChatMessage[];
  /** The whole text answer the rules gave, whether or not all of it was sent ("" for a tool call without words). */
  answer: string;
  /** The tools the request offered (its `tools`, by name), in its order; empty when none. */
  toolsOffered: string[];
  /** The tool call the emulator answered with instead of text, if it did. */
  toolCall?: EmittedToolCall;
  /** The fault this completion was given, if any. */
  fault?: ChatFault["kind"];
}

export interface CallToolStats {
  /** Every tool name the call's requests offered, each once, in the order first offered. */
  offered: string[];
  /** The tool calls the emulator streamed (or answered) to the end for the call, in order. */
  calls: EmittedToolCall[];
}

/** What a completion needs of its emulator. */
export interface ChatContext {
  settings: { firstTokenMs: number; tokenIntervalMs: number };
  stats: ChatStats;
  chatFaults: FaultSchedule<ChatFault>;
}

/** The emulator's stats a completion writes. */
export interface ChatStats {
  completed: number;
  cancelled: number;
  chatFaults: number;
  lastMessages: ChatMessage[];
  completions: CompletionTimeline[];
  tools: Map<string, CallToolStats>;
}

/** Bounds the timelines kept, so a long-running `npm start` does not grow without end. */
const MAX_COMPLETIONS_KEPT = 500;

/** Bounds the per-call tool records likewise. */
const MAX_CALLS_KEPT = 1000;

/** The call's tool record, created on first use (bounded like the other per-call memories). */
function toolsOf(stats: ChatStats, callId: string): CallToolStats {
  let known = stats.tools.get(callId);
  if (!known) {
    known = { offered: [], calls: [] };
    stats.tools.set(callId, known);
    if (stats.tools.size > MAX_CALLS_KEPT) stats.tools.delete(stats.tools.keys().next().value!);
  }
  return known;
}

export async function serveChatCompletion(request: ChatRequest, callId: string | undefined, res: ServerResponse, arrivedAt: number, context: ChatContext): Promise<void> {
  const { stats, settings, chatFaults } = context;
  stats.lastMessages = request.messages;
  const toolsOffered = offeredTools(request);
  if (callId !== undefined && toolsOffered.length > 0) {
    const known = toolsOf(stats, callId);
    for (const name of toolsOffered) if (!known.offered.includes(name)) known.offered.push(name);
  }
  const summary = summaryReply(request);
  const reply: Reply = summary !== undefined ? { kind: "text", text: summary } : replyTo(request.messages, toolsOffered);
  const wire = replyWire(reply);
  const pieces = wire.pieces;
  const fault = chatFaults.take(callId);
  const timeline: CompletionTimeline = {
    startedAt: arrivedAt,
    cancelled: false,
    ...(callId !== undefined && { callId }),
    messages: request.messages,
    answer: reply.text ?? "",
    toolsOffered,
    ...(reply.kind === "toolCall" && { toolCall: reply.call }),
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
    completion_tokens: pieces.length,
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
      await wait(firstTokenMs + settings.tokenIntervalMs * Math.max(0, pieces.length - 1));
      if (fault?.kind === "cut") return cutNow();
      timeline.firstTokenAt = performance.now();
      sendJson(res, 200, {
        ...meta,
        object: "chat.completion",
        choices: [{ index: 0, message: wire.message, logprobs: null, finish_reason: wire.finishReason }],
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
      const finish = () => chunk({}, wire.finishReason);
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" });
      res.flushHeaders();
      if (fault?.kind === "stall") return;
      await wait(firstTokenMs);
      event(chunk(wire.head, null));
      // A tool call's first chunk already carries the model's output (the call's id and name).
      if (reply.kind === "toolCall" && !reply.text) timeline.firstTokenAt = performance.now();
      if (fault?.kind === "malformed") {
        let piecesSent = 0;
        for (const item of malformedStream(fault, pieces, wire.shapes, meta)) {
          if ("raw" in item) res.write(item.raw);
          else if ("event" in item) event(item.event);
          else if ("finish" in item) event(finish());
          else if ("done" in item) event("[DONE]");
          else {
            if (piecesSent++ > 0) await wait(settings.tokenIntervalMs);
            event(chunk(item.piece, null));
            timeline.firstTokenAt ??= performance.now();
          }
        }
        res.end();
      } else {
        // A cut comes half-way through the event after the last whole piece: the SDK parses an event
        // only once bytes after it arrive, so the client still gets every whole piece.
        const cutAfter = fault?.kind === "cut" ? Math.min(fault.afterTokens, pieces.length) : undefined;
        for (const [i, piece] of pieces.entries()) {
          if (i > 0) await wait(settings.tokenIntervalMs);
          if (i === cutAfter) return cutNow(sse(chunk(piece, null)));
          event(chunk(piece, null));
          timeline.firstTokenAt ??= performance.now();
        }
        if (cutAfter === pieces.length) return cutNow(sse(finish()));
        event(finish());
        if (includeUsage) event({ ...meta, object: "chat.completion.chunk", choices: [], usage });
        event("[DONE]");
        res.end();
      }
    }
    timeline.endedAt = performance.now();
    stats.completed++;
    if (reply.kind === "toolCall" && callId !== undefined) toolsOf(stats, callId).calls.push(reply.call);
  } catch (error) {
    if (!gone.signal.aborted) throw error;
  }
}

/** The answer to a conversation: the tool rules' when tools are in play, else the rule table's. */
function replyTo(messages: ChatMessage[], toolsOffered: string[]): Reply {
  const chosen = toolReply(messages, toolsOffered);
  if (chosen?.kind === "toolCall") return { kind: "toolCall", call: { id: newToolCallId(), name: chosen.name, arguments: JSON.stringify(chosen.arguments) }, ...(chosen.text && { text: chosen.text }) };
  if (chosen) return chosen;
  const userTexts = messages.filter((message) => message.role === "user").map(textOf);
  return { kind: "text", text: answerFor(userTexts.at(-1) ?? "", userTexts.slice(0, -1)) };
}
