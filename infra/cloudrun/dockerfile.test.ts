// Docker is not available here or in CI, so the image's definition is checked as text: what Cloud
// Run needs from it (Node 22 slim, production dependencies only, an unprivileged user, node as PID 1
// in exec form so SIGTERM reaches the core's drain), and that Cloud Build builds this file.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions in order: comments dropped, continuation lines joined. */
function instructions(text: string): Instruction[] {
  const joined = text
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ");
  return joined
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return { keyword: keyword!.toUpperCase(), args: rest.join(" ") };
    });
}

/** Instructions grouped by stage (each starts at a FROM). */
function stages(list: Instruction[]): Instruction[][] {
  const result: Instruction[][] = [];
  for (const instruction of list) {
    if (instruction.keyword === "FROM") result.push([]);
    result.at(-1)?.push(instruction);
  }
  return result;
}

const dockerfile = await readFile(path.join(REPO_ROOT, "infra/cloudrun/Dockerfile"), "utf8");
const all = instructions(dockerfile);
const [buildStage, runtime] = stages(all);

describe("infra/cloudrun/Dockerfile", () => {
  it("has a build stage and a runtime stage, both on node:22-slim", () => {
    expect(stages(all)).toHaveLength(2);
    expect(buildStage![0]!.args).toBe("node:22-slim AS build");
    expect(runtime![0]!.args).toBe("node:22-slim");
  });

  it("builds the bundle with the repository's own build script", () => {
    const runs = buildStage!.filter((i) => i.keyword === "RUN").map((i) => i.args);
    expect(runs.some((r) => r.startsWith("npm ci"))).toBe(true);
    expect(runs).toContain("npm run build:core");
  });

  it("installs only production dependencies in the runtime stage and copies just the bundle", () => {
    const installs = runtime!.filter((i) => i.keyword === "RUN" && i.args.includes("npm ci"));
    expect(installs).toHaveLength(1);
    expect(installs[0]!.args).toMatch(/--omit=dev/);
    expect(installs[0]!.args).toMatch(/--workspace core-node/);
    const fromBuild = runtime!.filter((i) => i.keyword === "COPY" && i.args.startsWith("--from="));
    expect(fromBuild.map((i) => i.args)).toEqual(["--from=build /src/dist ./dist"]);
    // No source, no dev tooling copied into the runtime stage.
    expect(runtime!.filter((i) => i.keyword === "COPY").some((i) => /\bsrc\b/.test(i.args) && !i.args.startsWith("--from="))).toBe(false);
  });

  it("runs as an unprivileged user", () => {
    const users = runtime!.filter((i) => i.keyword === "USER").map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    expect(["root", "0", "0:0"]).not.toContain(users.at(-1));
    // Switching back to root after USER would undo it.
    const lastUser = runtime!.findLastIndex((i) => i.keyword === "USER");
    expect(runtime!.slice(lastUser).filter((i) => i.keyword === "RUN")).toEqual([]);
  });

  it("starts node directly in exec form, so SIGTERM reaches the core", () => {
    const cmds = runtime!.filter((i) => i.keyword === "CMD");
    expect(cmds).toHaveLength(1);
    expect(JSON.parse(cmds[0]!.args)).toEqual(["node", "dist/main.js"]);
    expect(runtime!.some((i) => i.keyword === "ENTRYPOINT")).toBe(false);
  });
});

describe("build context and Cloud Build", () => {
  it(".dockerignore keeps local installs, outputs and git out of the context", async () => {
    const ignored = (await readFile(path.join(REPO_ROOT, ".dockerignore"), "utf8"))
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith("#"));
    expect(ignored).toEqual(expect.arrayContaining(["**/node_modules", "**/dist", ".git", ".dev.vars"]));
  });

  it("cloudbuild.yaml builds this Dockerfile from the repository root and pushes the image", async () => {
    const config = parseYaml(await readFile(path.join(REPO_ROOT, "infra/cloudrun/cloudbuild.yaml"), "utf8")) as {
      steps: Array<{ name: string; args: string[] }>;
      images: string[];
      options: { logging: string };
    };
    expect(config.steps).toHaveLength(1);
    expect(config.steps[0]!.name).toBe("gcr.io/cloud-builders/docker");
    const args = config.steps[0]!.args;
    expect(args.slice(0, 1)).toEqual(["build"]);
    expect(args[args.indexOf("--file") + 1]).toBe("infra/cloudrun/Dockerfile");
    expect(args[args.indexOf("--tag") + 1]).toBe("${_IMAGE}");
    expect(args.at(-1)).toBe(".");
    expect(config.images).toEqual(["${_IMAGE}"]);
    expect(config.options.logging).toBe("CLOUD_LOGGING_ONLY");
  });
});
