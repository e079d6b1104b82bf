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
});
