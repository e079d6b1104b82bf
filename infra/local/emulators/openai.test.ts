import { buildWav, WAV_FORMAT_MULAW } from "@voice/protocol";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import defaultScript from "../scripts/default.he.json" with { type: "json" };
import { answerFor, streamTokens } from "./chat-answers.js";
import { startOpenAiEmulator, type OpenAiEmulator } from "./openai.js";

describe("chat answers", () => {
  it("gives the default script's three lines three different, sensible answers", () => {
    const answers = defaultScript.lines.map(answerFor);
    expect(new Set(answers).size).toBe(3);
    expect(answers[0]).toMatch(/פתוחים/);
    expect(answers[1]).toMatch(/תור/);
    expect(answers[2]).toMatch(/להתראות/);
    expect(answerFor("מה מזג האוויר?")).toMatch(/סליחה, לא הבנתי/);
    expect(answerFor("When are you open?")).toMatch(/^We are open/);
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
