import { describe, expect, it } from "vitest";
import type { ChatEvent, ChatModel } from "../llm/types.js";
import { BudgetSpentError, CallBudget, type BudgetName } from "./budget.js";

/** A model that answers "ok" and counts the requests that reached it. */
function countingModel(): ChatModel & { requests: number } {
  const model = {
    requests: 0,
    async *stream(): AsyncGenerator<ChatEvent> {
      model.requests++;
      yield { type: "text", text: "ok" };
    },
    warmup: async () => {},
  };
  return model;
}

async function read(stream: AsyncIterable<ChatEvent>): Promise<string> {
  let text = "";
  for await (const event of stream) if (event.type === "text") text += event.text;
  return text;
}

const options = { signal: new AbortController().signal, callId: "CA-budget" };

describe("CallBudget", () => {
  it("lets LLM_MAX_REQUESTS_PER_CALL requests through; the next fails unsent and is reported once", async () => {
    const spent: Array<[BudgetName, number]> = [];
    const budget = new CallBudget({ llmRequests: 2, ttsChars: 100 }, (name, limit) => spent.push([name, limit]));
    const inner = countingModel();
    const llm = budget.chat(inner);
    expect(await read(llm.stream([], options))).toBe("ok");
    expect(await read(llm.stream([], options))).toBe("ok");
    await expect(read(llm.stream([], options))).rejects.toBeInstanceOf(BudgetSpentError);
    await expect(read(llm.stream([], options))).rejects.toThrow("LLM_MAX_REQUESTS_PER_CALL spent");
    expect(inner.requests).toBe(2);
    expect(budget.llmRequests).toBe(2);
    expect(spent).toEqual([["LLM_MAX_REQUESTS_PER_CALL", 2]]);
  });

  it("counts the characters of texts not in the cache only, and refuses the text that would go past TTS_MAX_CHARS_PER_CALL", async () => {
    const spent: BudgetName[] = [];
    const budget = new CallBudget({ llmRequests: 10, ttsChars: 10 }, (name) => spent.push(name));
    const sent: string[] = [];
    const cached = new Set(["a phrase from the cache, long"]);
    const tts = budget.synthesis(
      {
        synthesize: async (text) => {
          sent.push(text);
          return { audio: new Uint8Array(8), cacheHit: cached.has(text) };
        },
      },
      (text) => cached.has(text),
    );
    const signal = new AbortController().signal;
    await tts.synthesize("123456", signal);
    await tts.synthesize("a phrase from the cache, long", signal);
    await expect(tts.synthesize("12345", signal)).rejects.toBeInstanceOf(BudgetSpentError);
    await tts.synthesize("1234", signal); // still fits: 6 + 4
    // Once spent, the cache still serves (the farewell phrase comes from it).
    await tts.synthesize("a phrase from the cache, long", signal);
    expect(sent).toEqual(["123456", "a phrase from the cache, long", "1234", "a phrase from the cache, long"]);
    expect(budget.ttsChars).toBe(10);
    expect(spent).toEqual(["TTS_MAX_CHARS_PER_CALL"]);
  });
});
