import { describe, expect, it } from "vitest";
import { DEFAULT_THRESHOLDS, parseThresholds } from "./thresholds.js";

describe("thresholds", () => {
  it("default to the seed targets (ARCHITECTURE.md, Turn metrics and targets): the upper end of each range is the bound, the lower end the target, over two calls", () => {
    expect(DEFAULT_THRESHOLDS.min_calls).toBe(2);
    expect(DEFAULT_THRESHOLDS.metrics).toEqual({
      STT_FIRST_PARTIAL_MS: { target: 500, bound: 500 },
      STT_FINAL_MS: { target: 700, bound: 900 },
      LLM_FIRST_TOKEN_MS: {},
      TTS_READY_MS: { target: 250, bound: 400 },
      TOTAL_LATENCY_MS: { target: 2200, bound: 2800 },
      CALLER_LATENCY_MS: {},
    });
    expect(DEFAULT_THRESHOLDS.tts_cold_ms).toBe(1000);
  });

  it("override only what the file gives; a metric given replaces its default", () => {
    const result = parseThresholds(JSON.stringify({ min_calls: 3, metrics: { STT_FINAL_MS: { bound: 1000 }, CALLER_LATENCY_MS: { target: 1800, bound: 2500 } } }));
    expect(result).toEqual({
      ok: true,
      thresholds: {
        ...DEFAULT_THRESHOLDS,
        min_calls: 3,
        metrics: { ...DEFAULT_THRESHOLDS.metrics, STT_FINAL_MS: { bound: 1000 }, CALLER_LATENCY_MS: { target: 1800, bound: 2500 } },
      },
    });
  });

  it("name the bad key", () => {
    expect(parseThresholds('{"metrics":{"STT_FINAL":{"bound":1000}}}')).toEqual({ ok: false, reason: 'metrics: Unrecognized key: "STT_FINAL"' });
    expect(parseThresholds('{"metrics":{"TTS_READY_MS":{"bound":"400ms"}}}')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^metrics\.TTS_READY_MS\.bound: .*expected number/),
    });
    expect(parseThresholds('{"metrics":{"TOTAL_LATENCY_MS":{"target":3000,"bound":2800}}}')).toEqual({
      ok: false,
      reason: "metrics.TOTAL_LATENCY_MS.target: target must not be above bound",
    });
    expect(parseThresholds('{"min_calls":0}')).toMatchObject({ ok: false, reason: expect.stringMatching(/^min_calls: /) });
    expect(parseThresholds('{"min_calls":2,}')).toMatchObject({ ok: false, reason: expect.stringMatching(/^not valid JSON: /) });
    expect(parseThresholds("[]")).toMatchObject({ ok: false, reason: expect.stringMatching(/expected object/) });
  });
});
