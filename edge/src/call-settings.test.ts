import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_FLOOD_CLOSE_AFTER_S, DEFAULT_MAX_AUDIO_BACKLOG_MS, DEFAULT_MAX_FRAMES_PER_SECOND } from "@voice/protocol/limits";
import {
  callSettings,
  controlSettings,
  DEFAULT_FALLBACK_TEXT,
  DEFAULT_MAX_FRAME_CHARS,
  DEFAULT_TRANSFER_TIMEOUT_S,
  readCallSettings,
  readControlSettings,
  type CallVars,
} from "./call-settings.js";
import { anyText, RUNS } from "../testing/fuzz-inputs.js";
import { DEFAULT_RECONNECT_BUDGET_MS } from "./reconnect-policy.js";
import { positiveIntegerVar } from "./vars.js";

const DEFAULTS = {
  maxFrameChars: DEFAULT_MAX_FRAME_CHARS,
  flood: { maxPerSecond: DEFAULT_MAX_FRAMES_PER_SECOND, maxAudioBacklogMs: DEFAULT_MAX_AUDIO_BACKLOG_MS, floodCloseAfterS: DEFAULT_FLOOD_CLOSE_AFTER_S },
};

describe("numeric vars", () => {
  it("take decimal digits and nothing else", () => {
    expect(positiveIntegerVar("X", "250", 7)).toEqual({ value: 250 });
    expect(positiveIntegerVar("X", undefined, 7)).toEqual({ value: 7 });
    expect(positiveIntegerVar("X", "", 7)).toEqual({ value: 7 });
    for (const bad of ["0", "-5", "1.5", "1e3", "0x10", " 5", "5 ", "soon", "9".repeat(16)]) {
      expect(positiveIntegerVar("X", bad, 7)).toEqual({ value: 7, problem: `X=${JSON.stringify(bad)} is not a positive integer` });
    }
  });

  it("read any positive integer back, and keep the default with a bounded reason for any other text (property-based)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (n) => {
        if (n < 1e15) expect(positiveIntegerVar("X", String(n), 7)).toEqual({ value: n });
      }),
      { seed: 8011, numRuns: RUNS },
    );
    fc.assert(
      fc.property(anyText, (raw) => {
        const { value, problem } = positiveIntegerVar("X", raw, 7);
        expect(Number.isSafeInteger(value) && value > 0).toBe(true);
        // Either the text read as written, or the default with the reason.
        if (problem === undefined) expect(value).toBe(raw === "" ? 7 : Number(raw));
        else expect(value).toBe(7);
        if (problem) expect(problem.length).toBeLessThan(300);
      }),
      { seed: 8012, numRuns: RUNS },
    );
  });
});

describe("call settings", () => {
  afterEach(() => vi.restoreAllMocks());

  it("are the defaults when the vars are unset", () => {
    expect(readCallSettings({})).toEqual({
      settings: { ...DEFAULTS, reconnect: expect.objectContaining({ budgetMs: DEFAULT_RECONNECT_BUDGET_MS }) },
      problems: [],
    });
  });

  it("take each var that is usable and name each that is not (property-based)", () => {
    const varValue = fc.option(fc.oneof(fc.integer({ min: 1, max: 100_000 }).map(String), anyText), { nil: undefined });
    fc.assert(
      fc.property(varValue, varValue, varValue, varValue, varValue, (chars, perSecond, backlog, closeAfter, budget) => {
        const vars: CallVars = {
          MAX_FRAME_CHARS: chars,
          MAX_FRAMES_PER_SECOND: perSecond,
          MAX_AUDIO_BACKLOG_MS: backlog,
          FLOOD_CLOSE_AFTER_S: closeAfter,
          RECONNECT_BUDGET_MS: budget,
        };
        const { settings, problems } = readCallSettings(vars);
        const { flood } = settings;
        const values = [settings.maxFrameChars, flood.maxPerSecond, flood.maxAudioBacklogMs, flood.floodCloseAfterS, settings.reconnect.budgetMs];
        for (const value of values) expect(Number.isSafeInteger(value) && value > 0).toBe(true);
        const names = Object.keys(vars) as (keyof CallVars)[];
        const bad = names.filter((name) => positiveIntegerVar(name, vars[name], 1).problem !== undefined);
        expect(problems).toHaveLength(bad.length);
        bad.forEach((name, i) => expect(problems[i]).toContain(name));
      }),
      { seed: 8013, numRuns: RUNS },
    );
  });

  it("log a bad var once, not once per call", () => {
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: string) => void lines.push(line));
    const env = { MAX_FRAMES_PER_SECOND: "lots", FLOOD_CLOSE_AFTER_S: "3" };
    for (let call = 0; call < 5; call++) {
      expect(callSettings(env).flood).toEqual({ maxPerSecond: DEFAULT_MAX_FRAMES_PER_SECOND, maxAudioBacklogMs: DEFAULT_MAX_AUDIO_BACKLOG_MS, floodCloseAfterS: 3 });
    }
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      { severity: "WARNING", message: "bad setting, using the default", problem: 'MAX_FRAMES_PER_SECOND="lots" is not a positive integer' },
    ]);
    // Changed vars are read (and judged) afresh.
    expect(callSettings({ MAX_FRAME_CHARS: "4096" }).maxFrameChars).toBe(4096);
    expect(lines).toHaveLength(1);
  });
});

describe("call-control settings", () => {
  afterEach(() => vi.restoreAllMocks());

  it("are no staff, no fallback number, 20 s and the Hebrew apology when the vars are unset or empty", () => {
    const defaults = { settings: { staffNumber: null, transferTimeoutS: DEFAULT_TRANSFER_TIMEOUT_S, fallbackNumber: null, fallbackText: DEFAULT_FALLBACK_TEXT }, problems: [] };
    expect(readControlSettings({})).toEqual(defaults);
    expect(readControlSettings({ STAFF_NUMBER: "", TRANSFER_TIMEOUT_S: "", FALLBACK_NUMBER: " ", FALLBACK_TEXT: "  " })).toEqual(defaults);
  });

  it("take E.164 numbers and a timeout within Twilio's 5-600 s, and leave out anything else with its reason", () => {
    expect(readControlSettings({ STAFF_NUMBER: "+97231234567", TRANSFER_TIMEOUT_S: "30", FALLBACK_NUMBER: "+15551234567", FALLBACK_TEXT: "Sorry" })).toEqual({
      settings: { staffNumber: "+97231234567", transferTimeoutS: 30, fallbackNumber: "+15551234567", fallbackText: "Sorry" },
      problems: [],
    });
    const { settings, problems } = readControlSettings({ STAFF_NUMBER: "03-1234567", FALLBACK_NUMBER: "sip:desk@clinic", TRANSFER_TIMEOUT_S: "900" });
    expect(settings).toMatchObject({ staffNumber: null, fallbackNumber: null, transferTimeoutS: DEFAULT_TRANSFER_TIMEOUT_S });
    expect(problems).toEqual([
      'STAFF_NUMBER="03-1234567" is not an E.164 number (+ and 7-15 digits)',
      'FALLBACK_NUMBER="sip:desk@clinic" is not an E.164 number (+ and 7-15 digits)',
      "TRANSFER_TIMEOUT_S=900 is outside Twilio's 5-600 s",
    ]);
    expect(readControlSettings({ TRANSFER_TIMEOUT_S: "soon" }).problems).toEqual(['TRANSFER_TIMEOUT_S="soon" is not a positive integer']);
  });

  it("log a bad var once", () => {
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: string) => void lines.push(line));
    for (let call = 0; call < 3; call++) expect(controlSettings({ STAFF_NUMBER: "0501234567" }).staffNumber).toBeNull();
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      { severity: "WARNING", message: "bad setting, left out", problem: 'STAFF_NUMBER="0501234567" is not an E.164 number (+ and 7-15 digits)' },
    ]);
  });
});
