import { describe, expect, it } from "vitest";
import { OutstandingMarks } from "./marks.js";

describe("OutstandingMarks", () => {
  it("settles, on an echo, every mark up to it, and nothing for a mark not outstanding", () => {
    const marks = new OutstandingMarks();
    for (const name of ["greeting", "1.1:שלום.", "1.2:מה נשמע?", "1.end"]) marks.add(name);
    expect(marks.echo("1.1:שלום.")).toEqual(["greeting", "1.1:שלום."]);
    expect(marks.echo("0.1:another core's")).toEqual([]);
    expect(marks.echo("1.1:שלום.")).toEqual([]);
    expect(marks.size).toBe(2);
  });

  it("knows the audio playing now: the first mark that follows audio, not an end mark", () => {
    const marks = new OutstandingMarks();
    marks.add("1.end");
    expect(marks.playing).toBeUndefined();
    expect(marks.audioPending).toBe(false);
    marks.add("2.1:שלום.");
    expect(marks.playing).toBe("2.1:שלום.");
    expect(marks.audioPending).toBe(true);
  });

  it("resolves a wait when the mark is echoed or cleared, and gives up after the bound", async () => {
    const marks = new OutstandingMarks();
    marks.add("1.1:a");
    marks.add("1.2:b");
    const first = marks.settled("1.1:a", 10_000);
    const second = marks.settled("1.2:b", 10_000);
    marks.echo("1.1:a");
    expect(await first).toBe(true);
    marks.clear();
    expect(await second).toBe(true);
    expect(await marks.settled("1.1:a", 10_000)).toBe(true); // not outstanding any more

    marks.add("2.1:c");
    expect(await marks.settled("2.1:c", 20)).toBe(false);
    expect(marks.has("2.1:c")).toBe(true);
  });
});
