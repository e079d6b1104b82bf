import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { callerTurn, checkCallerScript, dialAnswer, loadCallerScript, spokenLines } from "./script.js";

const script = (lines: unknown[]) => ({ language: "he-IL", voice: "he", lines });

describe("caller script", () => {
  it("takes plain lines and action lines, keeping them as written", () => {
    const lines = [
      "שלום, מה שעות הפתיחה שלכם?",
      { text: "כן", interruptAfterMs: 500, expectAnswer: false },
      { noiseMs: 150, interruptAfterMs: 900 },
      { dtmf: "1234#", pauseMs: 800 },
      { text: "רגע, יש לי שאלה אחרת", interruptAfterMs: 700 },
    ];
    const checked = checkCallerScript(script(lines));
    expect(checked).toEqual({ ok: true, script: script(lines) });
    if (!checked.ok) return;
    expect(checked.script.lines.map(callerTurn)).toEqual([
      { act: { kind: "speech", text: lines[0] }, pauseMs: undefined, interruptAfterMs: undefined, expectAnswer: true },
      { act: { kind: "speech", text: "כן" }, pauseMs: undefined, interruptAfterMs: 500, expectAnswer: false },
      { act: { kind: "noise", ms: 150 }, pauseMs: undefined, interruptAfterMs: 900, expectAnswer: false },
      { act: { kind: "dtmf", digits: "1234#" }, pauseMs: 800, interruptAfterMs: undefined, expectAnswer: true },
      { act: { kind: "speech", text: "רגע, יש לי שאלה אחרת" }, pauseMs: undefined, interruptAfterMs: 700, expectAnswer: true },
    ]);
    // What the speech emulator should transcribe: the words, in order.
    expect(spokenLines(checked.script)).toEqual([lines[0], "כן", "רגע, יש לי שאלה אחרת"]);
  });

  it("says in one line what is wrong with a bad line", () => {
    const reason = (lines: unknown[]) => {
      const checked = checkCallerScript(script(lines));
      return checked.ok ? "" : checked.reason;
    };
    expect(reason(["שלום", { text: "כן", dtmf: "1" }])).toBe("lines.1: a line needs exactly one of text, noiseMs, dtmf, silenceMs or toneMs");
    expect(reason([{ text: "כן", interruptAfter: 500 }])).toMatch(/^lines\.0: Unrecognized key.*interruptAfter/);
    expect(reason([{ dtmf: "12x" }])).toBe("lines.0.dtmf: dtmf takes the keys 0-9, * and #");
    expect(reason(["  "])).toMatch(/^lines\.0: /);
    expect(reason([])).toMatch(/^lines: /);
  });

  it("takes silence and tone lines, which are not words, and how the staff answer each dial", () => {
    const checked = checkCallerScript({ ...script(["שלום", { silenceMs: 30_000 }, { toneMs: 2000 }]), dial: ["no-answer", "answered"], dialTalkMs: 500, lingerMs: 4000 });
    expect(checked.ok).toBe(true);
    if (!checked.ok) return;
    expect(checked.script.lines.map((line) => callerTurn(line).act)).toEqual([
      { kind: "speech", text: "שלום" },
      { kind: "silence", ms: 30_000 },
      { kind: "tone", ms: 2000 },
    ]);
    expect(checked.script.lines.slice(1).map((line) => callerTurn(line).expectAnswer)).toEqual([false, false]);
    expect(spokenLines(checked.script)).toEqual(["שלום"]);
    expect([0, 1, 2].map((n) => dialAnswer(checked.script, n))).toEqual(["no-answer", "answered", "answered"]);
    expect(dialAnswer(script(["שלום"]) as never, 0)).toBe("answered");

    const bad = checkCallerScript({ ...script(["שלום"]), dial: "maybe" });
    expect(bad.ok ? "" : bad.reason).toMatch(/^dial: /);
  });

  it("every script under infra/local/scripts is valid", async () => {
    const dir = fileURLToPath(new URL("../local/scripts/", import.meta.url));
    const files = (await readdir(dir)).filter((file) => file.endsWith(".json"));
    expect(files).toEqual(expect.arrayContaining(["transfer.he.json", "transfer-answered.he.json", "silent.he.json", "goodbye.he.json"]));
    for (const file of files) await expect(loadCallerScript(`${dir}${file}`)).resolves.toBeDefined();
  });
});
