import { buildWav, WAV_FORMAT_MULAW } from "@voice/protocol";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import defaultScript from "../scripts/default.he.json" with { type: "json" };
import { answerFor, streamTokens } from "./chat-answers.js";
import { startOpenAiEmulator, type OpenAiEmulator } from "./openai.js";

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
