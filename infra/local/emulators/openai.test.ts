import http from "node:http";
import { buildWav, WAV_FORMAT_MULAW } from "@voice/protocol";
import OpenAI, { toFile } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import defaultScript from "../../caller-scripts/default.he.json" with { type: "json" };
import { answerFor, streamTokens } from "./chat-answers.js";
import { CALL_ID_HEADER } from "./faults.js";
import { HUGE_ANSWER_CHARS, startOpenAiEmulator, type MalformedChatFault, type OpenAiEmulator } from "./openai.js";

describe("chat answers", () => {
  it("gives the default script's three lines three different, sensible answers", () => {
    const answers = defaultScript.lines.map((line) => answerFor(line));
    expect(new Set(answers).size).toBe(3);
    expect(answers[0]).toMatch(/פתוחים/);
    expect(answers[1]).toMatch(/תור/);
    expect(answers[2]).toMatch(/להתראות/);
    expect(answerFor("מה מזג האוויר?")).toMatch(/סליחה, לא הבנתי/);
    expect(answerFor("When are you open?")).toMatch(/^We are open/);
  });

  it("answers 'tell me about' at length: three sentences, with a number, a time and an abbreviation inside them", () => {
    for (const [question, language] of [
      ["ספר לי על המרפאה", "he"],
      ["ספרי לי על המרפאה בבקשה", "he"],
      ["Tell me about the clinic", "en"],
    ] as const) {
      const answer = answerFor(question);
      expect(answer).toMatch(/ 3\.5 /);
      expect(answer).toMatch(/8:30,/);
      // The three sentences are where ICU's segmenter puts them, save for an English "Dr." it cuts after.
      const sentences = [...new Intl.Segmenter(language, { granularity: "sentence" }).segment(answer)].map((s) => s.segment.trim());
      expect(sentences).toHaveLength(language === "he" ? 3 : 4);
      expect(sentences.at(-1)).toMatch(/\?$/);
    }
    expect(answerFor("ספר לי על המרפאה")).toMatch(/ד״ר/);
  });

  it("answers 'what did I ask' with the caller's first message, which only the conversation history holds", () => {
    expect(answerFor("מה שאלתי קודם?", ["אני רוצה לקבוע תור", "[keypad] 1", "ומה השעות?"])).toBe("שאלת קודם: אני רוצה לקבוע תור");
    expect(answerFor("What did I ask before?", ["I want an appointment"])).toBe("Earlier you asked: I want an appointment");
    expect(answerFor("מה שאלתי?")).toBe("עוד לא שאלת אותי דבר.");
  });

  it("quotes keypad digits back, in the language the caller has been speaking", () => {
    expect(answerFor("[keypad] 1234")).toBe("קיבלתי את המספר 1234, תודה.");
    expect(answerFor("[keypad] 5 0 #", ["שלום, מה שעות הפתיחה שלכם?"])).toBe("קיבלתי את המספר 50#, תודה.");
    expect(answerFor("[keypad] 42", ["Hello", "[keypad] 7"])).toBe("I got the number 42, thank you.");
    expect(answerFor("[keypad]")).toMatch(/סליחה, לא הבנתי/);
    // Digits spoken rather than typed are an ordinary message.
    expect(answerFor("1234")).toMatch(/סליחה, לא הבנתי/);
  });

  it("splits an answer into word tokens that join back to it", () => {
    const answer = answerFor("תור");
    expect(streamTokens(answer).join("")).toBe(answer);
    expect(streamTokens("שלום, מה שלומך?")).toEqual(["שלום, ", "מה ", "שלומך?"]);
  });
});

describe("OpenAI emulator with the real openai SDK", () => {
  let emulator: OpenAiEmulator;
  let client: OpenAI;

  beforeAll(async () => {
    emulator = await startOpenAiEmulator({ firstTokenMs: 50, tokenIntervalMs: 20, transcriptionText: "אפשר לקבוע תור?", log: () => undefined });
    client = new OpenAI({ baseURL: emulator.baseURL, apiKey: "test", maxRetries: 0 });
  });
  afterAll(() => emulator.close());

  const messages: OpenAI.ChatCompletionMessageParam[] = [
    { role: "system", content: "את נציגת שירות של מרפאה. עני בקצרה." },
    { role: "user", content: "שלום, מה שעות הפתיחה שלכם?" },
  ];

  it("streams a Hebrew answer token by token and records the history it was sent", async () => {
    const stream = await client.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe(answerFor("שעות"));
    expect(chunks.filter((chunk) => chunk.choices[0]?.delta.content).length).toBe(streamTokens(text).length);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("stop");
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
    expect(emulator.stats.lastMessages).toEqual(messages);
  });

  it("counts the TCP connections clients open (and model lists), so a test can see a handshake paid", async () => {
    const { connections, modelLists } = emulator.stats;
    const agent = new http.Agent({ keepAlive: true });
    const get = () =>
      new Promise<number>((resolve, reject) => {
        const req = http.get(`${emulator.baseURL}/models`, { agent, headers: { authorization: "Bearer test" } }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("error", reject);
      });
    expect(await get()).toBe(200);
    expect(await get()).toBe(200);
    agent.destroy();
    // Two requests on one kept-alive socket: one handshake.
    expect(emulator.stats.connections).toBe(connections + 1);
    expect(emulator.stats.modelLists).toBe(modelLists + 2);
  });

  it("records each completion's timeline: arrival, first token, end", async () => {
    const messagesTold: OpenAI.ChatCompletionMessageParam[] = [{ role: "user", content: "ספר לי על המרפאה" }];
    const sentAt = performance.now();
    const stream = await client.chat.completions.create({ model: "gpt-4o-mini", messages: messagesTold, stream: true });
    let firstTokenSeenAt: number | undefined;
    for await (const chunk of stream) if (chunk.choices[0]?.delta.content) firstTokenSeenAt ??= performance.now();
    const doneAt = performance.now();

    const timeline = emulator.stats.completions.at(-1)!;
    expect(timeline).toMatchObject({ cancelled: false, messages: messagesTold, answer: answerFor("ספר לי על המרפאה") });
    expect(timeline.startedAt).toBeGreaterThanOrEqual(sentAt);
    expect(timeline.firstTokenAt! - timeline.startedAt).toBeGreaterThanOrEqual(50);
    expect(timeline.firstTokenAt!).toBeLessThanOrEqual(firstTokenSeenAt!);
    const tokens = streamTokens(timeline.answer).length;
    expect(timeline.endedAt! - timeline.firstTokenAt!).toBeGreaterThanOrEqual(20 * (tokens - 1) - 1);
    expect(timeline.endedAt!).toBeLessThanOrEqual(doneAt);
  });

  it("answers without streaming too", async () => {
    const completion = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "תודה רבה, להתראות" }] });
    expect(completion.choices[0]!.message).toMatchObject({ role: "assistant", content: answerFor("תודה") });
    expect(completion.choices[0]!.finish_reason).toBe("stop");
    expect(completion.usage!.completion_tokens).toBe(streamTokens(answerFor("תודה")).length);
  });

  it("counts a stream the client aborts mid-way as cancelled", async () => {
    const before = { ...emulator.stats };
    const stream = await client.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
    let contentChunks = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) contentChunks++;
      if (contentChunks === 2) stream.controller.abort();
    }
    expect(contentChunks).toBe(2);
    await vi.waitFor(() => expect(emulator.stats.cancelled).toBe(before.cancelled + 1));
    expect(emulator.stats.completed).toBe(before.completed);
    const timeline = emulator.stats.completions.at(-1)!;
    expect(timeline.cancelled).toBe(true);
    expect(timeline.endedAt! - timeline.firstTokenAt!).toBeGreaterThanOrEqual(19);
  });

  it("sends SSE in OpenAI's wire format, ending with [DONE]", async () => {
    const response = await fetch(`${emulator.baseURL}/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer test", "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "תודה" }], stream: true }),
    });
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = (await response.text()).split("\n\n");
    expect(events.pop()).toBe("");
    expect(events.pop()).toBe("data: [DONE]");
    const chunks = events.map((event) => JSON.parse(event.replace(/^data: /, "")) as Record<string, unknown>);
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ object: "chat.completion.chunk", model: "gpt-4o-mini", choices: [{ index: 0 }] });
      expect(typeof chunk.created).toBe("number");
    }
    expect(chunks.at(-1)).toMatchObject({ choices: [{ delta: {}, finish_reason: "stop" }] });
  });

  it("rejects bad JSON and a malformed request with an OpenAI-shaped 400", async () => {
    const response = await fetch(`${emulator.baseURL}/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer test", "content-type": "application/json" },
      body: "{not json",
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { message: expect.stringMatching(/parse the JSON/), type: "invalid_request_error" } });

    await expect(client.chat.completions.create({ model: "gpt-4o-mini", messages: [] })).rejects.toMatchObject({
      status: 400,
      error: { message: expect.stringMatching(/messages/) },
    });
  });

  it("transcribes a WAV to the configured text, and lists models", async () => {
    const wav = buildWav({ audioFormat: WAV_FORMAT_MULAW, channels: 1, sampleRate: 8000, bitsPerSample: 8 }, new Uint8Array(8000).fill(0xff));
    const result = await client.audio.transcriptions.create({ file: await toFile(wav, "utterance.wav"), model: "whisper-1" });
    expect(result.text).toBe("אפשר לקבוע תור?");
    expect(emulator.stats.transcriptions).toBe(1);

    const models = await client.models.list();
    expect(models.data.map((model) => model.id)).toContain("gpt-4o-mini");
  });
});

describe("OpenAI emulator faults, as the real openai SDK sees them", () => {
  let emulator: OpenAiEmulator;
  let client: OpenAI;
  let linesTaken = 0;
  const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: "user", content: "ספר לי על המרפאה" }];
  const request = { model: "gpt-4o-mini", messages };
  const forCall = (callId: string) => ({ headers: { [CALL_ID_HEADER]: callId } });
  const wav = (fill: number) => buildWav({ audioFormat: WAV_FORMAT_MULAW, channels: 1, sampleRate: 8000, bitsPerSample: 8 }, new Uint8Array(8000).fill(fill));
  const transcribe = async (audio: Uint8Array, options?: OpenAI.RequestOptions) =>
    (await client.audio.transcriptions.create({ file: await toFile(audio, "utterance.wav"), model: "whisper-1" }, options)).text;

  beforeAll(async () => {
    emulator = await startOpenAiEmulator({
      firstTokenMs: 20,
      tokenIntervalMs: 5,
      transcriptionText: "configured text",
      // Stands in for the speech emulator: a known call's pending line, taken.
      transcriptFor: (callId) => (callId === "CA-known" ? `line ${++linesTaken}` : undefined),
      log: () => undefined,
    });
    client = new OpenAI({ baseURL: emulator.baseURL, apiKey: "test", maxRetries: 0 });
  });
  afterEach(() => emulator.clearFaults());
  afterAll(() => emulator.close());

  it("answers 429 with retry-after, 500 and 503, with OpenAI's bodies", async () => {
    emulator.injectChatFault({ kind: "http", status: 429, retryAfterSeconds: 2 });
    emulator.injectChatFault({ kind: "http", status: 500 });
    emulator.injectChatFault({ kind: "http", status: 503 });
    const failure = () => client.chat.completions.create({ ...request, stream: true }).catch((error: unknown) => error);

    const limited = await failure();
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect(limited).toMatchObject({ status: 429, code: "rate_limit_exceeded", type: "requests", message: expect.stringMatching(/^429 Rate limit reached for gpt-4o-mini/) });
    expect((limited as InstanceType<typeof OpenAI.RateLimitError>).headers.get("retry-after")).toBe("2");
    const internal = await failure();
    expect(internal).toBeInstanceOf(OpenAI.InternalServerError);
    expect(internal).toMatchObject({ status: 500, type: "server_error", message: "500 The server had an error while processing your request. Sorry about that!" });
    expect(await failure()).toMatchObject({ status: 503, type: "server_error", message: "503 The server is overloaded or not ready yet." });

    expect(emulator.stats.completions.slice(-3).map((timeline) => timeline.fault)).toEqual(["http", "http", "http"]);
    expect(await client.chat.completions.create(request)).toMatchObject({ choices: [{ finish_reason: "stop" }] });
  });

  it("is retried by the SDK on its own after retry-after when maxRetries allows", async () => {
    const retrying = new OpenAI({ baseURL: emulator.baseURL, apiKey: "test", maxRetries: 1 });
    const before = emulator.stats.requests;
    emulator.injectChatFault({ kind: "http", status: 429, retryAfterSeconds: 0.3 });
    const sentAt = performance.now();
    const completion = await retrying.chat.completions.create(request);
    expect(performance.now() - sentAt).toBeGreaterThanOrEqual(290);
    expect(completion.choices[0]!.message.content).toBe(answerFor("ספר לי על"));
    expect(emulator.stats.requests).toBe(before + 2);
  });

  it("cuts a stream after K tokens: the client gets K tokens, then a socket error (not an APIError)", async () => {
    const before = { ...emulator.stats };
    emulator.injectChatFault({ kind: "cut", afterTokens: 3 });
    const stream = await client.chat.completions.create({ ...request, stream: true });
    const tokens: string[] = [];
    const error = await (async () => {
      for await (const chunk of stream) if (chunk.choices[0]?.delta.content) tokens.push(chunk.choices[0].delta.content);
    })().catch((e: unknown) => e);

    expect(tokens).toEqual(streamTokens(answerFor("ספר לי על")).slice(0, 3));
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ message: "terminated", cause: { code: "UND_ERR_SOCKET", message: "other side closed" } });
    expect(emulator.stats.completions.at(-1)).toMatchObject({ fault: "cut", cancelled: false });
    expect(emulator.stats).toMatchObject({ cancelled: before.cancelled, completed: before.completed });
  });

  it("stalls before the first token with headers sent: create() resolves, no chunk comes, and aborting ends the loop without an error", async () => {
    emulator.injectChatFault({ kind: "stall", afterHeaders: true });
    const sentAt = performance.now();
    const stream = await client.chat.completions.create({ ...request, stream: true }, { signal: AbortSignal.timeout(300) });
    let chunks = 0;
    for await (const chunk of stream) chunks += chunk ? 1 : 0;
    expect(chunks).toBe(0);
    expect(performance.now() - sentAt).toBeGreaterThanOrEqual(290);
    await vi.waitFor(() => expect(emulator.stats.completions.at(-1)).toMatchObject({ fault: "stall", cancelled: true }));
  });

  it("stalls without headers: the SDK's timeout fires", async () => {
    emulator.injectChatFault({ kind: "stall" });
    await expect(client.chat.completions.create({ ...request, stream: true }, { timeout: 300 })).rejects.toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
  });

  it("slows the first token by delayMs", async () => {
    emulator.injectChatFault({ kind: "slow", delayMs: 400 });
    await client.chat.completions.create(request);
    const timeline = emulator.stats.completions.at(-1)!;
    expect(timeline.fault).toBe("slow");
    expect(timeline.firstTokenAt! - timeline.startedAt).toBeGreaterThanOrEqual(410);
  });

  it("answers 200 with each malformed stream shape, on the wire as a buggy endpoint or proxy would send it", async () => {
    /** The raw answer to a streamed request given `fault`: status, content type, and its SSE events' data. */
    const raw = async (fault: MalformedChatFault, stream = true) => {
      emulator.injectChatFault(fault);
      const response = await fetch(`${emulator.baseURL}/chat/completions`, {
        method: "POST",
        headers: { authorization: "Bearer test", "content-type": "application/json" },
        body: JSON.stringify({ ...request, stream }),
      });
      const body = await response.text();
      const data = body.split("\n\n").filter(Boolean).map((event) => event.replace(/^data: /, ""));
      return { status: response.status, type: response.headers.get("content-type"), body, data };
    };
    const parses = (data: string) => {
      try {
        return JSON.parse(data) as Record<string, unknown>;
      } catch {
        return undefined;
      }
    };
    const contents = (data: string[]) => data.map((d) => (parses(d)?.choices as { delta?: { content?: unknown } }[] | undefined)?.[0]?.delta?.content).filter((c) => c);
    const answer = answerFor("ספר לי על");
    const tokens = streamTokens(answer);

    const notJson = await raw({ kind: "malformed", shape: "not-json", afterTokens: 2 });
    expect(notJson).toMatchObject({ status: 200, type: expect.stringMatching(/^text\/event-stream/) });
    expect(notJson.data.map((d) => d === "[DONE]" || parses(d) !== undefined)).toEqual(notJson.data.map((_, i) => i !== 3)); // role, 2 tokens, then it
    expect(contents(notJson.data).join("")).toBe(answer);

    const noChoices = await raw({ kind: "malformed", shape: "no-choices" });
    expect(noChoices.data.filter((d) => parses(d) && !("choices" in parses(d)!))).toHaveLength(1);
    expect(contents(noChoices.data).join("")).toBe(answer);

    const parts = await raw({ kind: "malformed", shape: "non-string-content", afterTokens: 1 });
    expect(contents(parts.data)[1]).toEqual([{ type: "text", text: tokens[1] }]);

    const error = await raw({ kind: "malformed", shape: "error-event", afterTokens: 1 });
    expect(error.data.map(parses).at(-1)).toEqual({ error: expect.objectContaining({ type: "server_error" }) });
    expect(contents(error.data)).toEqual([tokens[0]]);

    const noDone = await raw({ kind: "malformed", shape: "no-done" });
    expect(noDone.data).not.toContain("[DONE]");
    expect(parses(noDone.data.at(-1)!)).toMatchObject({ choices: [{ finish_reason: "stop" }] });
    expect(contents(noDone.data).join("")).toBe(answer);

    const truncated = await raw({ kind: "malformed", shape: "truncated", afterTokens: 2 });
    expect(truncated.data).toHaveLength(3); // the role chunk and two tokens, nothing after
    expect(truncated.data.some((d) => d.includes('"finish_reason":"stop"'))).toBe(false);

    const huge = await raw({ kind: "malformed", shape: "huge" });
    expect(contents(huge.data).map((c) => (c as string).length)).toEqual([HUGE_ANSWER_CHARS]);
    expect(huge.data.at(-1)).toBe("[DONE]");

    for (const stream of [true, false]) {
      const html = await raw({ kind: "malformed", shape: stream ? "html" : "no-choices" }, stream);
      expect(html).toMatchObject({ status: 200, type: "text/html; charset=utf-8", body: expect.stringMatching(/^<!DOCTYPE html>/) });
    }
  });

  it("targets one call's requests with callId", async () => {
    emulator.injectChatFault({ kind: "http", status: 503 }, { callId: "CA-target" });
    await expect(client.chat.completions.create(request, forCall("CA-other"))).resolves.toBeDefined();
    await expect(client.chat.completions.create(request)).resolves.toBeDefined();
    await expect(client.chat.completions.create(request, forCall("CA-target"))).rejects.toMatchObject({ status: 503 });
  });

  it("transcribes a known call's audio as its pending line, once per utterance however often it is sent", async () => {
    expect(await transcribe(wav(0xff), forCall("CA-known"))).toBe("line 1");
    // The SDK's retry of the same audio: the same line, not the next.
    expect(await transcribe(wav(0xff), forCall("CA-known"))).toBe("line 1");
    expect(await transcribe(wav(0x7f), forCall("CA-known"))).toBe("line 2");
    expect(await transcribe(wav(0xff), forCall("CA-unknown"))).toBe("configured text");
    expect(await transcribe(wav(0xff))).toBe("configured text");
  });

  it("fails or stalls transcriptions; a failed one still takes the call's line", async () => {
    emulator.injectTranscriptionFault({ kind: "http", status: 500 });
    const taken = linesTaken;
    await expect(transcribe(wav(0x10), forCall("CA-known"))).rejects.toMatchObject({ status: 500, message: expect.stringMatching(/^500 The server had an error/) });
    expect(linesTaken).toBe(taken + 1);

    emulator.injectTranscriptionFault({ kind: "stall" });
    await expect(transcribe(wav(0x11), { timeout: 300 })).rejects.toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect(emulator.stats.transcriptionFaults).toBe(2);
  });
});
