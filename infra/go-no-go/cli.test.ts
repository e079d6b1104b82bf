import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callSid, callTurns, cloudLoggingExport, coreLog, coreStdout, leanTurn, schema2Facts, simulatorOutput, simulatorSummary, toolTurnFacts } from "./fixtures.js";
import { run, USAGE } from "./run.js";

const CLI = fileURLToPath(new URL("./cli.ts", import.meta.url));

let dir: string;
const path = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "go-no-go-"));
  const healthy = coreLog([callTurns(1, 3), callTurns(2, 3)]);
  await Promise.all([
    writeFile(path("logs.json"), cloudLoggingExport(healthy)),
    writeFile(path("smoke.json"), simulatorOutput([simulatorSummary(1, [1480, 1610, 1550]), simulatorSummary(2, [1520, 1700, 1490])])),
    writeFile(path("slow-io.log"), coreStdout(coreLog([callTurns(1, 3, (_t, h) => ({ ...h, io: 1800 })), callTurns(2, 3, (_t, h) => ({ ...h, io: 1800 }))]))),
    // Turn 2 of each call booked: check_slots then book_appointment (820 ms and 1400 ms of tools in all).
    writeFile(
      path("booking.log"),
      coreStdout(
        coreLog(
          [1, 2].map((c) =>
            callTurns(c, 3, undefined, (turn, stages) =>
              turn === 2 ? toolTurnFacts(stages, [{ name: "check_slots", ok: true, ms: c === 1 ? 300 : 600 }, { name: "book_appointment", ok: true, ms: c === 1 ? 520 : 800 }]) : {},
            ),
          ),
        ),
      ),
    ),
    // A leaner core's lines (a call id and the five metrics), healthy, and with a cold TTS on each call's first turn.
    writeFile(path("lean.log"), coreStdout(coreLog([1, 2].map((c) => callTurns(c, 3).map((line) => leanTurn(line)))))),
    writeFile(
      path("lean-cold.log"),
      coreStdout(coreLog([1, 2].map((c) => callTurns(c, 3, (turn, h) => (turn === 1 ? { ...h, ttsReady: 1300 } : h)).map((line) => leanTurn(line))))),
    ),
    // The next revision's schema 2 lines of a third call, exported from Cloud Logging.
    writeFile(path("schema2.json"), cloudLoggingExport(coreLog([callTurns(3, 3, undefined, (_turn, s) => schema2Facts(s))]))),
    writeFile(path("empty.json"), "[]\n"),
    writeFile(path("no-turns.log"), coreStdout(coreLog([]))),
    writeFile(path("bad-thresholds.json"), JSON.stringify({ metrics: { STT_FINAL: { bound: 1000 } } })),
    writeFile(path("one-call.json"), JSON.stringify({ min_calls: 1 })),
  ]);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The CLI in-process: what it would print and its exit code. */
async function runIn(args: string[], stdin = ""): Promise<{ code: number; stdout: string; stderr: string[] }> {
  let stdout = "";
  const stderr: string[] = [];
  const code = await run(args, {
    readFile: (file) => readFile(file, "utf8"),
    readStdin: async () => stdin,
    out: (text) => (stdout += `${text}\n`),
    err: (line) => stderr.push(line),
  });
  return { code, stdout, stderr };
}

/** The CLI as the deploy pipeline runs it. */
function spawnCli(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args]);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  child.stdin.end(stdin ?? "");
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

describe("npm run go-no-go (spawned)", () => {
  it("exits 0 on the smoke calls' export and simulator output, printing the verdict first and GO on stderr", async () => {
    const { code, stdout, stderr } = await spawnCli([path("logs.json"), path("smoke.json")]);

    expect(code, stderr).toBe(0);
    const lines = stdout.split("\n");
    expect(lines[0]).toBe("GO: 2 calls, 6 turns with TURN lines; 2 simulated calls");
    expect(lines).toContain("  TOTAL_LATENCY_MS           6    1245    1400    2200    2800  ok");
    expect(stderr).toBe("GO: 2 calls, 6 turns with TURN lines; 2 simulated calls, every p95 within its bound\n");
  });

  it("exits 1 on core stdout piped to stdin, naming the diagnosis", async () => {
    const { code, stdout, stderr } = await spawnCli(["-"], await readFile(path("slow-io.log"), "utf8"));

    expect(code, stderr).toBe(1);
    expect(stdout.split("\n")[0]).toBe("NO-GO: 2 calls, 6 turns with TURN lines");
    expect(stdout).toContain("  stdin: core stdout, 11 records, 6 TURN lines");
    expect(stdout).toContain("  - I/O, logging or network: TOTAL_LATENCY_MS p95 3175 ms > 2800 ms, and 2013 ms of it (p95) is outside STT, LLM and TTS (above 500 ms)");
    expect(stderr).toBe("NO-GO: TOTAL_LATENCY_MS p95 3175 ms > bound 2800 ms (6 of 6 above); diagnosis: I/O, logging or network\n");
  });

  it("exits 0 on a leaner core's lines and a rollout's mix, saying what the lines lack and what could not run", async () => {
    const { code, stdout, stderr } = await spawnCli([path("lean.log"), path("schema2.json")]);

    expect(code, stderr).toBe(0);
    const lines = stdout.split("\n");
    expect(lines[0]).toBe("GO: 3 calls, 9 turns with TURN lines");
    expect(lines).toContain("  TOTAL_LATENCY_MS           9    1255    1400    2200    2800  ok");
    expect(lines).toContain("counts (over the lines that carry each): retries 0, fallbacks 0, fallback transcriptions 0, tts failures 0, partial used at timeout 0, interrupted 0, keypad turns 0");
    expect(lines).toContain("TURN lines by schema version: 1: 6 lines, 2: 3 lines");
    expect(lines).toContainEqual(expect.stringMatching(/^missing fields \(a leaner or older core did not write them\): 6 of 9 lines lack turn, input, EOU_MS, /));
    expect(lines).toContain("  - I/O, logging or network diagnosis: 6 of 9 lines lack EOU_MS");
    expect(stderr).toBe("GO: 3 calls, 9 turns with TURN lines, every p95 within its bound\n");
  });

  it("exits 2 on an empty export with one line on stderr and nothing on stdout", async () => {
    const { code, stdout, stderr } = await spawnCli([path("empty.json"), path("smoke.json")]);

    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      `go-no-go: unusable input: ${path("empty.json")}: empty Cloud Logging export (no log entries): check the filter and time window given to gcloud logging read\n`,
    );
  });
});

describe("go-no-go exit codes and messages", () => {
  it("exits 2 when the inputs hold no TURN line", async () => {
    const { code, stdout, stderr } = await runIn([path("no-turns.log")]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toEqual([`go-no-go: unusable input: no TURN lines in ${path("no-turns.log")}`]);
  });

  it("exits 2 on a bad thresholds file, naming the key", async () => {
    const { code, stderr } = await runIn([path("logs.json"), "--thresholds", path("bad-thresholds.json")]);
    expect(code).toBe(2);
    expect(stderr).toEqual([`go-no-go: unusable input: thresholds ${path("bad-thresholds.json")}: metrics: Unrecognized key: "STT_FINAL"`]);
  });

  it("exits 2 on a file it cannot read", async () => {
    const { code, stderr } = await runIn([path("logs.json"), path("missing.json")]);
    expect(code).toBe(2);
    expect(stderr).toEqual([expect.stringMatching(new RegExp(`^go-no-go: unusable input: cannot read ${path("missing.json")}: ENOENT`))]);
  });

  it("reads stdin for '-' alongside files, and applies a thresholds file", async () => {
    const oneCall = coreStdout(coreLog([callTurns(1, 3)]));
    expect((await runIn(["-"], oneCall)).code).toBe(2);
    const { code, stdout } = await runIn(["-", path("smoke.json"), "--thresholds", path("one-call.json")], oneCall);
    expect(code).toBe(0);
    expect(stdout.split("\n")[0]).toBe("GO: 1 call, 3 turns with TURN lines; 2 simulated calls");
    expect(stdout).toContain("  stdin: core stdout, 6 records, 3 TURN lines");
    expect(stdout).toContain(`  - simulated call ${callSid(2)} has no TURN lines in the inputs (not in the logs yet, or outside the export's filter)`);
  });

  it("prints the whole result as one JSON object with --json, unusable input too", async () => {
    const go = await runIn([path("logs.json"), path("smoke.json"), "--json"]);
    expect(go.code).toBe(0);
    const result = JSON.parse(go.stdout);
    expect(result).toMatchObject({ verdict: "GO", calls: [callSid(1), callSid(2)], turns: 6, failures: [], diagnoses: [] });
    expect(result.metrics.find((m: { metric: string }) => m.metric === "TTS_READY_MS")).toEqual({
      metric: "TTS_READY_MS",
      n: 6,
      p50: 162,
      p95: 193,
      target: 250,
      bound: 400,
      status: "ok",
    });
    expect(result.thresholds.min_calls).toBe(2);

    const unusable = await runIn([path("empty.json"), "--json"]);
    expect(unusable.code).toBe(2);
    expect(JSON.parse(unusable.stdout)).toEqual({ verdict: "UNUSABLE", reason: expect.stringContaining("empty Cloud Logging export") });
  });

  it("exits 1 on a leaner core's lines with a cold TTS, naming the diagnosis, and --json says what the lines lack", async () => {
    const text = await runIn([path("lean-cold.log")]);
    expect(text.code).toBe(1);
    expect(text.stderr).toEqual(["NO-GO: TTS_READY_MS p95 1300 ms > bound 400 ms (2 of 6 above); diagnosis: warmup or cache mismatch"]);
    expect(text.stdout).toContain("  - warmup or cache mismatch: TTS_READY_MS above 1000 ms on 2 turns; tts_cache_hit was false on 0 of them, not in the line on 2\n");

    const json = await runIn([path("lean-cold.log"), "--json"]);
    expect(json.code).toBe(1);
    const result = JSON.parse(json.stdout);
    expect(result.coverage.schema_versions).toEqual([{ version: 1, lines: 6 }]);
    expect(result.coverage.missing_fields).toContainEqual({ field: "EOU_MS", lines: 6 });
    expect(result.coverage.checks_limited).toContainEqual({ check: "I/O, logging or network diagnosis", needs: ["EOU_MS"], lines_lacking: 6, of: 6, run: "not run" });
    expect(result.counts.fallbacks).toBeNull();
  });

  it("reports tool turns apart, in the text and with the same figures in --json", async () => {
    const text = await runIn([path("booking.log")]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("  TOTAL_LATENCY_MS           4    1245    1400    2200    2800  ok\n");
    expect(text.stdout).toContain("\ntool turns: 2, judged on TOTAL_LATENCY_MS − TOOL_MS; TOOL_MS median 820 ms, max 1400 ms\n");

    const json = await runIn([path("booking.log"), "--json"]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).tool_turns).toEqual({
      n: 2,
      tool_ms: { median: 820, max: 1400 },
      latency: { metric: "TOTAL_LATENCY_MS - TOOL_MS", n: 2, p50: 1160, p95: 1315, target: 2200, bound: 2800, status: "ok" },
      tool_calls: 4,
      failed_tool_calls: 0,
    });
  });

  it("shows usage: exit 2 without an input or with an unknown option, 0 for --help", async () => {
    expect(await runIn([])).toEqual({ code: 2, stdout: "", stderr: [`no input given\n${USAGE}`] });
    expect((await runIn(["--verbose", path("logs.json")])).code).toBe(2);
    expect(await runIn(["--help"])).toEqual({ code: 0, stdout: `${USAGE}\n`, stderr: [] });
  });
});
