// The LLM stream's reading of what an endpoint sends, on anything it might send: the pure chunk
// reader, and the whole stream through the real openai SDK against a loopback server answering with
// arbitrary event streams. Text comes out only as strings; a bad stream ends in LlmResponseError (or
// the SDK's APIError for an error event), never in a TypeError.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MAX_ANSWER_CHARS, LlmResponseError, createOpenAiChat, readChunk } from "./openai.js";

const chunk = (delta: object, finishReason: string | null = null) => ({
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-4o-mini",
  choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
});

/** Chunks shaped like OpenAI's, with every field free to be wrong. */
const chunkLike = fc.oneof(
  fc.record(
    {
      object: fc.string(),
      choices: fc.oneof(
        fc.array(
          fc.oneof(
            fc.record(
              {
                delta: fc.oneof(fc.record({ content: fc.oneof(fc.string(), fc.constant(null), fc.anything()), role: fc.string() }, { requiredKeys: [] }), fc.anything()),
                finish_reason: fc.oneof(fc.constantFrom("stop", "length", null), fc.anything()),
              },
              { requiredKeys: [] },
            ),
            fc.anything(),
          ),
          { maxLength: 2 },
        ),
        fc.anything(),
      ),
    },
    { requiredKeys: [] },
  ),
  fc.anything(),
);

describe("readChunk", () => {
  it("reads any chunk as text (maybe empty) and whether it finishes, or a one-line reason; never throws", () => {
    fc.assert(
      fc.property(chunkLike, (given) => {
        const reading = readChunk(given);
        if (reading.ok) {
          expect(typeof reading.text).toBe("string");
          expect(typeof reading.finished).toBe("boolean");
        } else {
          expect(reading.reason).toMatch(/^[^\n]{1,80}$/);
        }
      }),
      { seed: 8008, numRuns: 500 },
    );
  });

  it("takes OpenAI's chunks as they come, and names what is wrong with a bad one", () => {
    expect(readChunk(chunk({ role: "assistant", content: "", refusal: null }))).toEqual({ ok: true, text: "", toolCalls: [], finished: false });
    expect(readChunk(chunk({ content: "שלום " }))).toEqual({ ok: true, text: "שלום ", toolCalls: [], finished: false });
    expect(readChunk(chunk({}, "stop"))).toEqual({ ok: true, text: "", toolCalls: [], finished: true });
    expect(readChunk({ ...chunk({}), choices: [], usage: { total_tokens: 3 } })).toEqual({ ok: true, text: "", toolCalls: [], finished: false });
    expect(readChunk({ id: "chatcmpl-1", object: "chat.completion.chunk" })).toEqual({ ok: false, reason: "a chunk has no choices list" });
    expect(readChunk(chunk({ content: [{ type: "text", text: "שלום" }] }))).toEqual({ ok: false, reason: "a chunk's content is a list, not text" });
    expect(readChunk(chunk({ content: 42 }))).toEqual({ ok: false, reason: "a chunk's content is number, not text" });
    expect(readChunk("data")).toEqual({ ok: false, reason: "a chunk is not an object" });
  });
});

describe("the chat stream through the real SDK, on arbitrary event streams", () => {
  let server: Server;
  /** What the next request is answered with. */
  let next: { type: string; body: string } = { type: "text/event-stream", body: "" };
  let chat: ReturnType<typeof createOpenAiChat>;

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(200, { "content-type": next.type }).end(next.body));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const client = new OpenAI({ apiKey: "test", baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, maxRetries: 0, logLevel: "off" });
    chat = createOpenAiChat(client, "gpt-4o-mini");
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** The texts a stream yields and how it ends. */
  const run = async () => {
    const texts: unknown[] = [];
    try {
      for await (const event of chat.stream([{ role: "user", content: "שלום" }], { signal: new AbortController().signal, callId: "CA-fuzz" })) texts.push(event.type === "text" ? event.text : event);
      return { texts, error: undefined };
    } catch (error) {
      return { texts, error };
    }
  };
  const sse = (events: string[]) => events.map((data) => `data: ${data}\n\n`).join("");

  it("yields only text; a bad stream fails with a one-line LlmResponseError, or the SDK's APIError for an error event (fixed seed)", async () => {
    const event = fc.oneof(
      { weight: 3, arbitrary: chunkLike.map((value) => JSON.stringify(value) ?? "null") },
      fc.constantFrom("[DONE]", "{", "not json", '{"error":{"message":"boom","type":"server_error"}}', JSON.stringify(chunk({ content: "x" }, "stop"))),
      fc.string(),
    );
    const outcomes = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.array(event, { maxLength: 6 }), async (events) => {
        next = { type: "text/event-stream", body: sse(events) };
        const { texts, error } = await run();
        expect(texts.every((text) => (typeof text === "string" && text !== "") || (typeof text === "object" && text !== null))).toBe(true);
        if (error !== undefined) expect(error instanceof LlmResponseError || error instanceof OpenAI.APIError, String(error)).toBe(true);
        if (error instanceof LlmResponseError) expect(error.message).toMatch(/^[^\n]{1,100}$/);
        outcomes.add(error === undefined ? "ended" : error instanceof LlmResponseError ? error.message : "APIError");
      }),
      { seed: 8008, numRuns: 150 },
    );
    // The streams drawn reach every way of ending, clean and not.
    expect([...outcomes]).toEqual(
      expect.arrayContaining(["ended", "APIError", "a stream event is not JSON", "the stream ended before a finish_reason", "a chunk has no choices list"]),
    );
  });

  it("fails each malformed stream with its reason", async () => {
    const ok = (text: string) => JSON.stringify(chunk({ content: text }));
    const stop = JSON.stringify(chunk({}, "stop"));
    const cases: Array<[string, { type: string; body: string }]> = [
      ["a stream event is not JSON", { type: "text/event-stream", body: sse([ok("שלום "), '{"choices":[{"delta":{"content":']) }],
      ["a chunk has no choices list", { type: "text/event-stream", body: sse([JSON.stringify({ id: "x", object: "chat.completion.chunk" })]) }],
      ["a chunk's content is a list, not text", { type: "text/event-stream", body: sse([JSON.stringify(chunk({ content: [{ type: "text", text: "hi" }] }))]) }],
      ["the stream ended before a finish_reason", { type: "text/event-stream", body: sse([ok("שלום ")]) }],
      ['the answer is "text/html; charset=utf-8", not an event stream', { type: "text/html; charset=utf-8", body: "<html><body>502 Bad Gateway</body></html>" }],
      [`the answer runs past ${DEFAULT_MAX_ANSWER_CHARS} characters`, { type: "text/event-stream", body: sse([ok("א. ".repeat(DEFAULT_MAX_ANSWER_CHARS)), stop, "[DONE]"]) }],
    ];
    for (const [reason, answer] of cases) {
      next = answer;
      const { texts, error } = await run();
      expect(error, reason).toBeInstanceOf(LlmResponseError);
      expect((error as Error).message).toBe(reason);
      // Nothing of the absurd chunk was yielded.
      if (reason.includes("runs past")) expect(texts).toEqual([]);
    }
    next = { type: "text/event-stream", body: sse([ok("נ"), JSON.stringify({ error: { message: "The server had an error", type: "server_error" } })]) };
    expect((await run()).error).toBeInstanceOf(OpenAI.APIError);
    // Without [DONE], an answer that finished is whole.
    next = { type: "text/event-stream", body: sse([ok("שלום "), ok("לך."), stop]) };
    expect(await run()).toEqual({ texts: ["שלום ", "לך."], error: undefined });
  });

  it("assembles a tool call streamed in pieces, after the text before it; refuses pieces that do not add up", async () => {
    const delta = (toolCalls: unknown[], finish: string | null = null) => JSON.stringify({ ...chunk({ tool_calls: toolCalls }), choices: [{ index: 0, delta: { tool_calls: toolCalls }, finish_reason: finish }] });
    next = {
      type: "text/event-stream",
      body: sse([
        JSON.stringify(chunk({ content: "רגע, אני בודקת." })),
        delta([{ index: 0, id: "call_1", type: "function", function: { name: "find_slots", arguments: "" } }]),
        delta([{ index: 0, function: { arguments: '{"da' } }]),
        delta([{ index: 0, function: { arguments: 'te":"2026-12-07"}' } }], "tool_calls"),
      ]),
    };
    expect(await run()).toEqual({
      texts: ["רגע, אני בודקת.", { type: "toolCall", call: { id: "call_1", name: "find_slots", arguments: '{"date":"2026-12-07"}' } }],
      error: undefined,
    });
    next = { type: "text/event-stream", body: sse([delta([{ index: 0, function: { arguments: "{}" } }], "tool_calls")]) };
    expect((await run()).error).toMatchObject({ message: "a tool call without an id or a name" });
    next = { type: "text/event-stream", body: sse([delta([{ function: { name: "x" } }], "tool_calls")]) };
    expect((await run()).error).toMatchObject({ message: "a tool call delta without an index" });
  });
});
