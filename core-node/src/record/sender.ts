// The shell that hands a call's part of its record to the edge, once the session's part of the call
// ended: the part read from the history (record-part.ts), the summary (one LLM request, bounded by
// RECORD_SUMMARY_TIMEOUT_MS: summary.ts, openai-summarizer.ts), then a POST to the edge's record URL
// with a core token for "record", retried as delivery.ts says. A summary that fails leaves the part
// without one (summary null, summaryError); the edge still gets the rest. Never throws: every
// outcome is one log line, with counts and reasons, never the caller's words.
//
// The process waits for parts in flight when it stops (app.close -> drain): summaries still running
// are given up at once, so each part goes out, without its summary, within the drain budget.
import { setTimeout as sleep } from "node:timers/promises";
import { signCoreToken, type CoreRecordPart } from "@voice/protocol";
import type { Logger } from "../metrics/log.js";
import { afterAttempt, type AttemptResult } from "./delivery.js";
import type { Summarizer } from "./openai-summarizer.js";
import type { CallRecordInput, RecordSender } from "./ports.js";
import { recordPart, type RecordPartBody } from "./record-part.js";
import { parseSummary, summaryRequest } from "./summary.js";

export interface RecordSenderOptions {
  /** CORE_SHARED_SECRET: signs the token the edge's record route checks. */
  secret: string;
  /** LANGUAGE: the summary's language. */
  language: string;
  summarize: Summarizer;
  /** RECORD_SUMMARY_TIMEOUT_MS. */
  summaryTimeoutMs: number;
  log: Logger;
  /** Bound of one POST to the edge (default 5000). */
  postTimeoutMs?: number;
  /** The jitter's random source (default Math.random). */
  random?: () => number;
}

/** The sender and what a stopping process needs of it. */
export interface RecordDesk {
  send: RecordSender;
  /** Parts being summarized or posted now. */
  pending(): number;
  /** Gives up the summaries running, and resolves once every part in flight is settled, or after `budgetMs`. */
  drain(budgetMs: number): Promise<void>;
}

type SummaryFields = Pick<CoreRecordPart, "summary" | "outcome" | "summaryError">;

const DEFAULT_POST_TIMEOUT_MS = 5000;
/** protocol's bound of summaryError. */
const MAX_SUMMARY_ERROR_CHARS = 300;

export function createRecordSender(options: RecordSenderOptions): RecordDesk {
  const { log, summarize, summaryTimeoutMs } = options;
  const postTimeoutMs = options.postTimeoutMs ?? DEFAULT_POST_TIMEOUT_MS;
  const random = options.random ?? Math.random;
  const inFlight = new Set<Promise<void>>();
  const shutdown = new AbortController();

  async function summaryOf(part: RecordPartBody): Promise<SummaryFields> {
    const without = (reason: string): SummaryFields => ({ summary: null, outcome: null, summaryError: clip(reason, MAX_SUMMARY_ERROR_CHARS) });
    const request = summaryRequest(part, options.language);
    if (!request.ok) return without(request.reason);
    if (shutdown.signal.aborted) return without("the core was shutting down");
    const deadline = AbortSignal.timeout(summaryTimeoutMs);
    try {
      const signal = AbortSignal.any([deadline, shutdown.signal]);
      // The SDK's own timeout a little later than the deadline, so the deadline is what ends a slow request (and says so).
      const answer = await summarize(request.messages, { signal, callId: part.callSid, timeoutMs: summaryTimeoutMs + 1000 });
      const reading = parseSummary(answer);
      return reading.ok ? { summary: reading.summary, outcome: reading.outcome } : without(reading.reason);
    } catch (error) {
      if (shutdown.signal.aborted) return without("the core shut down before the summary was made");
      if (deadline.aborted) return without(`the summary took over ${summaryTimeoutMs} ms`);
      return without(`the summary request failed: ${oneLine(error)}`);
    }
  }

  async function post(url: string, body: string, callSid: string): Promise<AttemptResult> {
    // Signed for each attempt (a token lives a minute); outside the try: a call sid that cannot be signed is no network error.
    const token = await signCoreToken(options.secret, "record", callSid, Date.now());
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body,
        // A redirect would take the part (and its token) somewhere the edge did not name.
        redirect: "manual",
        signal: AbortSignal.timeout(postTimeoutMs),
      });
      await response.body?.cancel();
      return { status: response.status };
    } catch (error) {
      return { error: oneLine(error) };
    }
  }

  async function deliver(input: CallRecordInput): Promise<void> {
    const started = performance.now();
    const fields = { call_id: input.callSid };
    if (!input.recordUrl) return void log.debug(fields, "no record URL from the edge: no call record sent");
    const url = URL.canParse(input.recordUrl) ? new URL(input.recordUrl) : undefined;
    if (!url || !/^https?:$/.test(url.protocol)) return void log.warn(fields, "call record not sent: the record URL is not an http(s) URL");
    const body = recordPart(input.callSid, input.endReason, input.history);
    const part: CoreRecordPart = { ...body, ...(await summaryOf(body)) };
    const json = JSON.stringify(part);
    const counts = {
      ...fields,
      utterances: part.conversation.length,
      tools: part.tools.length,
      callback: part.callback !== null,
      summary: part.summary !== null,
      ...(part.summaryError !== undefined && { summary_error: part.summaryError }),
    };
    for (let attempt = 1; ; attempt++) {
      const step = afterAttempt(attempt, await post(input.recordUrl, json, input.callSid), random());
      const done = { ...counts, attempts: attempt, ms: Math.round(performance.now() - started) };
      switch (step.type) {
        case "delivered":
          return void log.info(done, "call record sent");
        case "refused":
          return void log.warn({ ...done, status: step.status }, "call record refused by the edge");
        case "gaveUp":
          return void log.error({ ...done, error: step.reason }, "call record not delivered");
        case "retry":
          await sleep(step.delayMs);
      }
    }
  }

  return {
    send(input) {
      const work = deliver(input).catch((error: unknown) => log.error({ call_id: input.callSid, error }, "call record failed"));
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work));
      return work;
    },
    pending: () => inFlight.size,
    async drain(budgetMs) {
      shutdown.abort();
      if (inFlight.size === 0) return;
      const budget = new AbortController();
      const settled = Promise.all(inFlight).then(() => "settled" as const);
      const spent = sleep(budgetMs, "spent" as const, { signal: budget.signal }).catch(() => "settled" as const);
      const outcome = await Promise.race([settled, spent]);
      budget.abort();
      if (outcome === "spent") log.warn({ pending: inFlight.size, budget_ms: budgetMs }, "shutting down with call records still in flight");
    },
  };
}

/** An error as one short line (fetch puts the reason in its cause: "fetch failed (ECONNREFUSED)"). */
function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && error.cause instanceof Error ? ((error.cause as NodeJS.ErrnoException).code ?? error.cause.message) : undefined;
  return clip(`${message}${cause ? ` (${cause})` : ""}`.replace(/\s+/g, " "), 200);
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
