import { describe, expect, it } from "vitest";
import { DtmfCollector, keypadMessage } from "./dtmf.js";

const at = (ms: number) => ({ at: ms, audioMs: ms - 1000 });

describe("DtmfCollector", () => {
  it("forms an entry when '#' is pressed, with the keys in order", () => {
    const keypad = new DtmfCollector(1500);
    expect(keypad.press("1", at(1000))).toEqual({ type: "awaitKey", id: expect.any(Number), timeoutMs: 1500 });
    keypad.press("2", at(1300));
    expect(keypad.collecting).toBe(true);
    expect(keypad.press("#", at(1600))).toEqual({
      type: "entry",
      entry: { keys: "12#", first: at(1000), last: at(1600), completedAt: 1600 },
    });
    expect(keypad.collecting).toBe(false);
  });

  it("forms an entry when no key follows within the timeout; only the latest timer counts", () => {
    const keypad = new DtmfCollector(1500);
    const first = keypad.press("4", at(1000));
    const second = keypad.press("2", at(1400));
    if (first.type !== "awaitKey" || second.type !== "awaitKey") throw new Error("expected timers");
    expect(keypad.timeout(first.id, 2500)).toBeUndefined();
    expect(keypad.timeout(second.id, 2900)).toEqual({
      type: "entry",
      entry: { keys: "42", first: at(1000), last: at(1400), completedAt: 2900 },
    });
    expect(keypad.timeout(second.id, 3000)).toBeUndefined();
  });

  it("starts a fresh entry after one was formed", () => {
    const keypad = new DtmfCollector(1500);
    keypad.press("9", at(0));
    keypad.press("#", at(100));
    const next = keypad.press("*", at(5000));
    expect(next.type).toBe("awaitKey");
    expect(keypad.press("#", at(5100))).toMatchObject({ entry: { keys: "*#", first: at(5000) } });
  });

  it("ends an entry that grows past any real use of a keypad", () => {
    const keypad = new DtmfCollector(1500);
    let last;
    for (let i = 0; i < 32; i++) last = keypad.press("7", at(i * 100));
    expect(last).toMatchObject({ type: "entry", entry: { keys: "7".repeat(32) } });
  });
});

describe("keypadMessage", () => {
  it("is a language-neutral marker with the keys spaced out", () => {
    expect(keypadMessage("123#")).toBe("[keypad] 1 2 3 #");
    expect(keypadMessage("*0")).toBe("[keypad] * 0");
  });
});
