import { describe, expect, it } from "vitest";
import { Timers, Waits } from "./timers.js";

describe("Timers", () => {
  it("arming a name again replaces its timer; cancelled timers never fire", async () => {
    const timers = new Timers();
    const fired: string[] = [];
    timers.arm("stt", 5, () => fired.push("first"));
    timers.arm("stt", 10, () => fired.push("second"));
    timers.arm("keys", 5, () => fired.push("keys"));
    timers.cancel("keys");
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(fired).toEqual(["second"]);
    timers.arm("later", 5, () => fired.push("later"));
    timers.cancelAll();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fired).toEqual(["second"]);
  });
});

describe("Waits", () => {
  it("resolves when the condition holds at a check, at once when it already holds, false after the bound, true for all on release", async () => {
    const waits = new Waits();
    const outstanding = new Set(["1.1:a", "1.2:b"]);
    const first = waits.until(() => !outstanding.has("1.1:a"), 10_000);
    const second = waits.until(() => !outstanding.has("1.2:b"), 10_000);
    outstanding.delete("1.1:a");
    waits.check();
    expect(await first).toBe(true);
    expect(await waits.until(() => true, 10_000)).toBe(true);
    expect(await waits.until(() => false, 20)).toBe(false);
    waits.releaseAll();
    expect(await second).toBe(true);
  });
});
