import { describe, expect, it } from "vitest";
import { LlmStallError, withStallDeadline } from "./stall.js";

/** A token source: yields each [delayMs, text] in turn, honouring the abort signal like the SDK does. */
function tokens(steps: Array<[number, string]>, seen: { signal?: AbortSignal } = {}) {
  return (signal: AbortSignal) => {
    seen.signal = signal;
    return (async function* () {
      for (const [delayMs, text] of steps) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, delayMs);
          signal.addEventListener("abort", () => (clearTimeout(timer), reject(new Error("Request was aborted."))), { once: true });
        });
        yield text;
      }
    })();
  };
}

async function collect(source: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const text of source) out.push(text);
  return out;
}

describe("withStallDeadline", () => {
  it("passes a stream through when every token comes in time, and leaves the finished request alone", async () => {
    const seen: { signal?: AbortSignal } = {};
    const out = await collect(withStallDeadline(tokens([[5, "שלום"], [5, " לך"]], seen), new AbortController().signal, 200));
    expect(out).toEqual(["שלום", " לך"]);
    expect(seen.signal?.aborted).toBe(false);
  });

  it("stops the request when the consumer leaves early", async () => {
    const seen: { signal?: AbortSignal } = {};
    for await (const text of withStallDeadline(tokens([[5, "א"], [5, "ב"]], seen), new AbortController().signal, 200)) {
      expect(text).toBe("א");
      break;
    }
    expect(seen.signal?.aborted).toBe(true);
  });

  it("fails with LlmStallError when the first token does not come in time, and aborts the request", async () => {
    const seen: { signal?: AbortSignal } = {};
    const run = collect(withStallDeadline(tokens([[10_000, "late"]], seen), new AbortController().signal, 50));
    await expect(run).rejects.toBeInstanceOf(LlmStallError);
    expect(seen.signal?.aborted).toBe(true);
  });

  it("fails the same way when the stream goes quiet after some tokens", async () => {
    const out: string[] = [];
    const run = (async () => {
      for await (const text of withStallDeadline(tokens([[5, "א"], [10_000, "ב"]]), new AbortController().signal, 50)) out.push(text);
    })();
    await expect(run).rejects.toThrow("no token for 50 ms");
    expect(out).toEqual(["א"]);
  });

  it("lets the caller's abort through as it is, not as a stall", async () => {
    const caller = new AbortController();
    const seen: { signal?: AbortSignal } = {};
    const run = collect(withStallDeadline(tokens([[10_000, "x"]], seen), caller.signal, 5000));
    setTimeout(() => caller.abort(), 10);
    await expect(run).rejects.toThrow("Request was aborted.");
    expect(seen.signal?.aborted).toBe(true);
  });
});
