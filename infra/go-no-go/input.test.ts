import { describe, expect, it } from "vitest";
import { callSid, callTurns, cloudLoggingExport, coreLog, coreStdout, leanTurn, simulatorOutput, simulatorSummary } from "./fixtures.js";
import { parseInput, type ParsedInput } from "./input.js";
import { ALWAYS_WRITTEN } from "./turn-sample.js";

function parsed(name: string, text: string): ParsedInput {
  const result = parseInput(name, text);
  if (!result.ok) throw new Error(result.reason);
  return result.input;
}

const twoCalls = coreLog([callTurns(1, 3), callTurns(2, 3)]);

describe("reading an input", () => {
  it("reads a Cloud Logging export, TURN lines only, with the labels Cloud Logging lifted out", () => {
    const input = parsed("logs.json", cloudLoggingExport(twoCalls));

    expect(input.kinds).toEqual(["Cloud Logging export"]);
    // APP_START, 2 x (CALL_START, 3 TURN, CALL), a textPayload line and a request log entry.
    expect(input.records).toBe(13);
    expect(input.malformed).toEqual([]);
    expect(input.turns.map((t) => [t.line.call_id, t.line.turn])).toEqual(
      expect.arrayContaining([[callSid(1), 1], [callSid(1), 3], [callSid(2), 2]]),
    );
    expect(input.turns).toHaveLength(6);
    expect(input.turns[0]!.source).toMatch(/^logs\.json entry \d+$/);
  });

  it("takes the call id from the entry's labels when the payload lacks it", () => {
    const entries = JSON.parse(cloudLoggingExport(twoCalls)) as Array<{ jsonPayload?: Record<string, unknown> }>;
    for (const entry of entries) delete entry.jsonPayload?.call_id;

    const input = parsed("logs.json", JSON.stringify(entries));

    expect(input.malformed).toEqual([]);
    expect(new Set(input.turns.map((t) => t.line.call_id))).toEqual(new Set([callSid(1), callSid(2)]));
  });

  it("reads an export flattened to one entry per line (jq -c '.[]')", () => {
    const entries = JSON.parse(cloudLoggingExport(twoCalls)) as object[];
    const input = parsed("entries.jsonl", entries.map((e) => JSON.stringify(e)).join("\n"));
    expect(input.kinds).toEqual(["Cloud Logging export"]);
    expect(input.turns).toHaveLength(6);
  });

  it("reads the core's raw stdout, skipping other lines and other messages", () => {
    const input = parsed("core.log", coreStdout(twoCalls));

    expect(input.kinds).toEqual(["core stdout"]);
    expect(input.turns).toHaveLength(6);
    expect(input.malformed).toEqual([]);
    expect(input.turns[0]).toMatchObject({ source: "core.log line 5", line: { call_id: callSid(1), turn: 1, TTS_READY_MS: expect.any(Number) } });
  });

  it("reads the simulator's --json output, one summary per smoke call, after npm's banner", () => {
    const text = `\n> voice-agent@ call\n> node --import tsx infra/sim/cli.ts --json\n\n${simulatorOutput([simulatorSummary(1, [1500, 1620, null])])}`;
    const input = parsed("smoke-1.json", text);

    expect(input.kinds).toEqual(["simulator --json output"]);
    expect(input.turns).toEqual([]);
    expect(input.calls).toHaveLength(1);
    expect(input.calls[0]!.summary).toMatchObject({ call_sid: callSid(1), errors: [] });
    expect(input.calls[0]!.summary.turns.map((t) => t.caller_latency_ms)).toEqual([1500, 1620, null]);
  });

  it("reads a pretty-printed simulator summary as one call", () => {
    const input = parsed("smoke.json", JSON.stringify(simulatorSummary(3, [1400]), null, 2));
    expect(input.calls.map((c) => [c.summary.call_sid, c.source])).toEqual([[callSid(3), "smoke.json"]]);
  });

  it("counts and skips malformed lines, keeping the reason, and reads the rest", () => {
    const lines = coreStdout(twoCalls).split("\n");
    const turnAt = lines.findIndex((l) => l.includes('"message":"TURN"'));
    const negative = JSON.parse(lines[turnAt]!) as Record<string, unknown>;
    lines[turnAt] = JSON.stringify({ ...negative, TOTAL_LATENCY_MS: -12 });
    lines.splice(turnAt + 1, 0, lines[turnAt + 1]!.slice(0, 90)); // a line cut short
    const summary = { ...simulatorSummary(4, [1500]), errors: "none" };
    lines.push(JSON.stringify(summary));

    const input = parsed("core.log", lines.join("\n"));

    expect(input.turns).toHaveLength(5);
    expect(input.malformed).toEqual([
      { source: `core.log line ${turnAt + 1}`, reason: expect.stringMatching(/^TURN line: TOTAL_LATENCY_MS: .*>=0/) },
      { source: `core.log line ${turnAt + 2}`, reason: expect.stringMatching(/^not valid JSON/) },
      { source: `core.log line ${lines.length}`, reason: expect.stringMatching(/^simulator summary: errors: .*expected array/) },
    ]);
  });

  it("reads an entry lacking a field of the current schema, naming it, and counts what it cannot read as malformed", () => {
    const entries = JSON.parse(cloudLoggingExport(twoCalls)) as Array<{ jsonPayload?: Record<string, unknown>; labels?: Record<string, unknown> }>;
    const turns = entries.flatMap((e, i) => (e.jsonPayload?.message === "TURN" ? [i] : []));
    const [lacking, stringMetric, noCallId] = turns as [number, number, number];
    delete entries[lacking]!.jsonPayload!.EOU_MS;
    entries[stringMetric]!.jsonPayload!.TTS_READY_MS = "180";
    delete entries[noCallId]!.jsonPayload!.call_id;
    delete entries[noCallId]!.labels!.call_id;
    entries.push("garbage" as never);

    const input = parsed("logs.json", JSON.stringify(entries));

    expect(input.turns).toHaveLength(4);
    expect(input.turns.find((t) => t.source === `logs.json entry ${lacking + 1}`)).toMatchObject({ missing: ["EOU_MS"], unreadable: [], schemaVersion: 1 });
    expect(input.malformed).toEqual([
      { source: `logs.json entry ${stringMetric + 1}`, reason: expect.stringMatching(/^TURN line: TTS_READY_MS: .*number/) },
      { source: `logs.json entry ${noCallId + 1}`, reason: "TURN line: no call id (call_id or logging.googleapis.com/labels.call_id)" },
      { source: `logs.json entry ${entries.length}`, reason: "not a JSON object" },
    ]);
  });

  it("reads a lean TURN line, its call id from the label, naming every field of the current schema it lacks", () => {
    const full = callTurns(1, 1)[0]!;
    const { call_id: _inTheLabelOnly, ...lean } = leanTurn(full);
    const other = { ...leanTurn(full), schema_version: 2, turn: 4, input: "voice", tools: "none" };
    const input = parsed("core.log", coreStdout([{ severity: "INFO", timestamp: "2026-03-02T09:15:09.000Z", message: "TURN", ...lean }, { severity: "INFO", timestamp: "2026-03-02T09:15:19.000Z", message: "TURN", ...other }]));

    expect(input.malformed).toEqual([]);
    const [first, second] = input.turns;
    expect(first!.line).toMatchObject({ call_id: callSid(1), STT_FINAL_MS: full.STT_FINAL_MS, TOTAL_LATENCY_MS: full.TOTAL_LATENCY_MS });
    expect(first).toMatchObject({ schemaVersion: 1, unreadable: [] });
    expect(first!.missing).toEqual(ALWAYS_WRITTEN);
    expect(first!.missing).toEqual(expect.arrayContaining(["turn", "input", "EOU_MS", "fallbacks", "retries"]));
    // A field not as the current schema has it is left out and named; the line still counts.
    expect(second).toMatchObject({ schemaVersion: 2, unreadable: ["input", "tools"], line: { turn: 4 } });
    expect(second!.line).not.toHaveProperty("input");
    expect(second!.missing).not.toContain("input");
  });

  it("refuses an empty input, an empty export and a broken export with a clear reason", () => {
    expect(parseInput("core.log", " \n")).toEqual({ ok: false, reason: "core.log: empty input" });
    expect(parseInput("logs.json", "[]\n")).toEqual({
      ok: false,
      reason: "logs.json: empty Cloud Logging export (no log entries): check the filter and time window given to gcloud logging read",
    });
    expect(parseInput("logs.json", '[\n  {"insertId": "1",')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^logs\.json: not valid JSON \(a Cloud Logging export is one JSON array\): /),
    });
  });
});
