import { describe, expect, it } from "vitest";
import { linearFit } from "./linear-fit.js";

describe("linearFit", () => {
  it("fits a line through points", () => {
    const fit = linearFit([0, 1, 2, 3].map((x) => ({ x: x * 25, y: 145 + 2.5 * x * 25 })));
    expect(fit.slope).toBeCloseTo(2.5);
    expect(fit.intercept).toBeCloseTo(145);
  });
});
