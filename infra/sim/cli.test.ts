import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SAMPLE_RATE, WAV_FORMAT_PCM, parseWav } from "@voice/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeEdge, type FakeEdge } from "./fake-edge.js";

const CLI = fileURLToPath(new URL("./cli.ts", import.meta.url));
const AUTH_TOKEN = "cli-test-auth-token";

let edge: FakeEdge | undefined;
let dir: string | undefined;
afterEach(async () => {
  await edge?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  edge = dir = undefined;
});

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
    env: { ...process.env, TWILIO_AUTH_TOKEN: AUTH_TOKEN },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

describe("npm run call", () => {
  it("prints the report as JSON on its last line and writes the call as a stereo WAV", async () => {
    edge = await startFakeEdge({ authToken: AUTH_TOKEN });
    dir = await mkdtemp(join(tmpdir(), "sim-cli-"));
    const scriptPath = join(dir, "script.json");
    const wavPath = join(dir, "call.wav");
    await writeFile(scriptPath, JSON.stringify({ language: "he-IL", voice: "he", lines: ["שלום"] }));

    const { code, stdout, stderr } = await runCli(["--url", edge.url, "--script", scriptPath, "--json", "--wav", wavPath]);

    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout.trim().split("\n").at(-1)!);
    expect(summary).toMatchObject({ errors: [], turns: [{ caller_text: "שלום", agent_text: "answer 1", agent_audio_ms: 300 }] });
    expect(summary.greeting_ms).toBeTypeOf("number");
    expect(summary.turns[0].caller_latency_ms).toBeGreaterThan(0);

    const wav = parseWav(new Uint8Array(await readFile(wavPath)));
    expect(wav.format).toEqual({ audioFormat: WAV_FORMAT_PCM, channels: 2, sampleRate: SAMPLE_RATE, bitsPerSample: 16 });
    const media = edge.frames.filter((f) => f.frame.event === "media").length;
    expect(wav.data.length).toBe(media * 160 * 4);
    // Both channels carry sound: the caller's line on the left, greeting and answer on the right.
    const samples = new Int16Array(wav.data.buffer.slice(wav.data.byteOffset, wav.data.byteOffset + wav.data.length));
    const peak = (channel: number) => samples.reduce((max, s, i) => (i % 2 === channel ? Math.max(max, Math.abs(s)) : max), 0);
    expect(peak(0)).toBeGreaterThan(1000);
    expect(peak(1)).toBeGreaterThan(1000);
  });

  it("prints a readable table and exits 1 when the call had errors", async () => {
    edge = await startFakeEdge({ authToken: "another-token" });
    const { code, stdout } = await runCli(["--url", edge.url, "--timeout", "1000"]);

    expect(code).toBe(1);
    expect(stdout).toMatch(/^call CA[0-9a-f]{32}$/m);
    expect(stdout).toMatch(/voice webhook .* answered 403/);
  });

  it("refuses bad options with usage", async () => {
    const { code, stderr } = await runCli(["--timeout", "soon"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--timeout must be a positive number/);
  });
});
