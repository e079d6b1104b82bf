import { describe, expect, it } from "vitest";
import { afterAttempt, DELIVERY_ATTEMPTS } from "./delivery.js";

describe("afterAttempt", () => {
  it("delivers on 2xx, refuses a 4xx at once, retries 5xx and network errors until the attempts are spent", () => {
    expect(afterAttempt(1, { status: 204 }, 0)).toEqual({ type: "delivered" });
    expect(afterAttempt(1, { status: 400 }, 0)).toEqual({ type: "refused", status: 400 });
    expect(afterAttempt(1, { status: 302 }, 0)).toEqual({ type: "refused", status: 302 });
    expect(afterAttempt(1, { status: 503 }, 0)).toEqual({ type: "retry", delayMs: 500 });
    expect(afterAttempt(2, { error: "fetch failed (ECONNREFUSED)" }, 0)).toEqual({ type: "retry", delayMs: 2000 });
    // The jitter only shortens a wait, to no less than half.
    const jittered = afterAttempt(2, { status: 500 }, 0.99);
    expect(jittered.type === "retry" && jittered.delayMs > 1000 && jittered.delayMs <= 2000).toBe(true);
    expect(afterAttempt(DELIVERY_ATTEMPTS, { status: 500 }, 0)).toEqual({ type: "gaveUp", reason: "the edge answered 500" });
    expect(afterAttempt(DELIVERY_ATTEMPTS, { error: "fetch failed (ECONNRESET)" }, 0)).toEqual({ type: "gaveUp", reason: "fetch failed (ECONNRESET)" });
  });
});
