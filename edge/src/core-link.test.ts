import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readCoreWarmup } from "./core-link.js";
import { anyText, RUNS } from "../testing/fuzz-inputs.js";

describe("the core's warmup answer", () => {
  it("is ok only for a 2xx JSON report that does not say ok:false", () => {
    expect(readCoreWarmup(200, '{"ok":true,"tts_warmup_ms":3}')).toEqual({ ok: true, status: 200, body: { ok: true, tts_warmup_ms: 3 } });
    expect(readCoreWarmup(200, '{"ok":false}').ok).toBe(false);
    expect(readCoreWarmup(503, '{"ok":true}').ok).toBe(false);
    expect(readCoreWarmup(200, "<html>proxy error</html>")).toEqual({ ok: false, status: 200, body: null });
  });

  it("is read from any status and any text without throwing (property-based)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), anyText, (status, text) => {
        const answer = readCoreWarmup(status, text);
        expect(answer.status).toBe(status);
        if (answer.ok) expect(status >= 200 && status < 300 && (answer.body as { ok?: unknown }).ok !== false).toBe(true);
      }),
      { seed: 8061, numRuns: RUNS },
    );
  });
});
