// The image's build, without Docker: the same esbuild bundle the Dockerfile builds, started with
// plain node (no tsx, as `CMD ["node", "dist/main.js"]` does) against the local emulators. It must
// warm up, log APP_START, answer /health, and exit cleanly on SIGTERM; and every package it imports
// must be a production dependency, or `npm ci --omit=dev` in the image would leave it out.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coreHealth } from "../local/core-process.js";
import { startEmulators, type Emulators } from "../local/emulators/index.js";
import { buildCore, type CoreBuild } from "./build.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

let outdir: string;
let build: CoreBuild;
let emulators: Emulators | undefined;
let core: ChildProcessWithoutNullStreams | undefined;

beforeAll(async () => {
  // Inside the repository (infra/.build is git-ignored), so the bundle finds node_modules as it does in /app.
  await mkdir(path.join(REPO_ROOT, "infra/.build"), { recursive: true });
  outdir = await mkdtemp(path.join(REPO_ROOT, "infra/.build/core-bundle-"));
  build = await buildCore(outdir);
});

afterAll(async () => {
  if (core && core.exitCode === null) core.kill("SIGKILL");
  await emulators?.close();
  await rm(outdir, { recursive: true, force: true });
});

async function productionDependencies(): Promise<Set<string>> {
  // What `npm ci --omit=dev --workspace core-node --include-workspace-root` installs at the top.
  const manifests = ["package.json", "core-node/package.json", "protocol/package.json"];
  const names = await Promise.all(
    manifests.map(async (file) => {
      const manifest = JSON.parse(await readFile(path.join(REPO_ROOT, file), "utf8")) as { dependencies?: Record<string, string> };
      return Object.keys(manifest.dependencies ?? {});
    }),
  );
  return new Set(names.flat());
}

describe("the core's production bundle", () => {
  it("compiles the protocol workspace in and leaves only production dependencies to node_modules", async () => {
    const bundle = await readFile(build.outfile, "utf8");
    expect(bundle).not.toMatch(/from\s+["']@voice\//);
    expect(build.externalPackages).toEqual(expect.arrayContaining(["@google-cloud/speech", "@google-cloud/text-to-speech", "@echogarden/fvad-wasm"]));
    const installed = await productionDependencies();
    expect(build.externalPackages.filter((name) => !installed.has(name))).toEqual([]);
  });

  it("starts with plain node, warms up, serves /health, and exits 0 on SIGTERM", async () => {
    emulators = await startEmulators({ speech: { log: () => {} }, tts: { log: () => {} }, openai: { log: () => {} } });
    core = spawn(process.execPath, [build.outfile], {
      cwd: outdir,
      // The image's environment: no tsx loader, source maps on, production mode.
      env: { ...process.env, ...emulators.env, NODE_OPTIONS: "--enable-source-maps", NODE_ENV: "production", CORE_SHARED_SECRET: "bundle-test-secret-0123456789", HOST: "127.0.0.1", PORT: "0" },
    });
    const stderr: string[] = [];
    core.stderr.on("data", (chunk: Buffer) => stderr.push(String(chunk)));
    const exited = new Promise<number | null>((resolve) => core!.once("close", (code) => resolve(code)));
    const start = await new Promise<Record<string, unknown>>((resolve, reject) => {
      createInterface({ input: core!.stdout }).on("line", (text) => {
        if (!text.startsWith("{")) return;
        const line = JSON.parse(text) as Record<string, unknown>;
        if (line.message === "APP_START") resolve(line);
      });
      void exited.then((code) => reject(new Error(`the bundle exited with ${code} before APP_START:\n${stderr.join("")}`)));
    });
    expect(start).toMatchObject({ status: "ok", warmup: { ok: true } });

    const health = await fetch(`http://127.0.0.1:${start.port as number}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    expect(await coreHealth(`http://127.0.0.1:${start.port as number}`, "bundle-test-secret-0123456789")).toMatchObject({ status: "ok", active_calls: 0 });

    core.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});
