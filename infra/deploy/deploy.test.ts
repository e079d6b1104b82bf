// `npm run deploy -- --dry-run`, as an operator runs it: the plan it prints for each environment,
// with the environment's own values from environments.ts and wrangler.toml, the rollback aimed at
// the recorded revision, and no secret value even when the secrets are in its environment.
import { execFile } from "node:child_process";
import { chmod, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS, imageRepository } from "./environments.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = fileURLToPath(new URL("./deploy.ts", import.meta.url));
const SECRETS = { DEPLOY_TOKEN: "dt-7f3a-not-to-be-printed", TWILIO_AUTH_TOKEN: "tw-91c2-not-to-be-printed" };

async function deploy(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--import", "tsx", CLI, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...SECRETS, GITHUB_SHA: "", ...extraEnv },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** A PATH whose gcloud, npx, npm, curl, wrangler and docker only write down that they were run. */
async function recordingPath(): Promise<{ PATH: string; calls: () => Promise<string> }> {
  const dir = await mkdtemp(path.join(tmpdir(), "deploy-dry-run-"));
  const log = path.join(dir, "calls.log");
  for (const tool of ["gcloud", "npx", "npm", "curl", "wrangler", "docker"]) {
    const shim = path.join(dir, tool);
    await writeFile(shim, `#!/bin/sh\necho "${tool} $*" >> "${log}"\n`);
    await chmod(shim, 0o755);
  }
  return { PATH: `${dir}${path.delimiter}${process.env.PATH ?? ""}`, calls: () => readFile(log, "utf8").catch(() => "") };
}

/** The printed steps: the title line of each, in order. */
function stepTitles(stdout: string): string[] {
  return stdout.split("\n").flatMap((line) => line.match(/^\s?\d+\. (.*)$/)?.slice(1) ?? []);
}

describe("npm run deploy -- --dry-run", () => {
  it("prints the staging plan in rollout order and runs nothing", async () => {
    const tools = await recordingPath();
    const { code, stdout } = await deploy(["--env", "staging", "--dry-run", "--tag", "0123456789ab"], { PATH: tools.PATH });
    expect(code).toBe(0);
    expect(await tools.calls()).toBe("");
    const image = `${imageRepository(ENVIRONMENTS.staging)}:0123456789ab`;
    expect(stdout).toContain(`Deploy staging: project ${ENVIRONMENTS.staging.project}, region us-east4, image ${image} (dry run: nothing is run)`);
    expect(stepTitles(stdout)).toEqual([
      "check the edge's secrets are set",
      "build and push the core image",
      "record the revision serving now -> ${PREVIOUS_REVISION}",
      "render the service definition",
      "deploy the core (waits for the new revision's startup probe, i.e. its warmup)",
      "check the new revision is ready and serves all traffic -> ${NEW_REVISION}",
      "deploy the edge",
      "warm up through the edge (KV phrases, core warmup)",
      "smoke call 1 of 2 through the edge",
      "smoke call 2 of 2 through the edge",
      "export the new revision's TURN lines",
      "GO/NO-GO on the smoke calls and the TURN lines",
    ]);
    expect(stdout).toContain(`--substitutions _IMAGE=${image} .`);
    expect(stdout).toContain("npx wrangler deploy --env staging");
    // The edge's public URL comes from wrangler.toml [env.staging.vars].
    expect(stdout).toContain("curl -fsS -H 'Authorization: Bearer <secret:DEPLOY_TOKEN>' https://voice-staging.example.com/health/warmup");
    // The smoke calls are calls of the environment's own Twilio account (wrangler.toml), or the edge refuses them.
    expect(stdout).toContain("npm run --silent call -- --url https://voice-staging.example.com --account-sid AC00000000000000000000000000000000 --json");
    expect(stdout).toContain("npm run --silent go-no-go -- infra/.build/deploy/staging/smoke-call-1.json infra/.build/deploy/staging/smoke-call-2.json infra/.build/deploy/staging/turn-lines.json");
    expect(stdout).toMatch(
      new RegExp(`On a failure from step 5 on, .*\\n    gcloud run services update-traffic voice-core --project ${ENVIRONMENTS.staging.project} --region us-east4 --to-revisions=\\$\\{PREVIOUS_REVISION\\}=100`),
    );
    // The committed placeholders are named: a real run would stop before doing anything.
    expect(stdout).toContain("A real run would refuse:\n  wrangler.toml [env.staging.vars] PUBLIC_URL is a placeholder");
  });

  it("prints production's own values, and promotes a given image without building", async () => {
    const image = `${imageRepository(ENVIRONMENTS.staging)}:0123456789ab`;
    const { code, stdout } = await deploy(["--env", "production", "--dry-run", "--image", image, "--smoke-calls", "3", "--max-tts-warmup-ms", "600"]);
    expect(code).toBe(0);
    expect(stepTitles(stdout)).not.toContain("build and push the core image");
    expect(stdout).toContain(`write infra/.build/deploy/production/service.yaml: infra/cloudrun/service.yaml with IMAGE=${image} PROJECT_ID=${ENVIRONMENTS.production.project}`);
    expect(stdout).toContain("npx wrangler deploy --env production");
    expect(stdout).toContain("https://voice.example.com/health/warmup");
    expect(stdout).toContain("tts_warmup_ms <= 600");
    expect(stepTitles(stdout).filter((title) => title.startsWith("smoke call"))).toHaveLength(3);
    expect(stdout).toContain(`--to-revisions=\${PREVIOUS_REVISION}=100`);
    expect(stdout).not.toMatch(/--env staging|voice-staging/);
  });

  it("prints no secret value, though both are in its environment", async () => {
    const { stdout, stderr } = await deploy(["--env", "staging", "--dry-run", "--tag", "0123456789ab"]);
    for (const value of Object.values(SECRETS)) {
      expect(stdout).not.toContain(value);
      expect(stderr).not.toContain(value);
    }
    expect(stdout).toContain("<secret:DEPLOY_TOKEN>");
    expect(stdout).toContain("<secret:TWILIO_AUTH_TOKEN>");
  });

  it("refuses bad usage with exit code 2 and the usage", async () => {
    const noEnv = await deploy(["--dry-run"]);
    expect(noEnv.code).toBe(2);
    expect(noEnv.stderr).toMatch(/^--env must be one of staging, production\nusage: npm run deploy/);
    const both = await deploy(["--env", "staging", "--dry-run", "--image", "x", "--tag", "y"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--image deploys an existing image; --tag names one to build: give one");
    const badCount = await deploy(["--env", "staging", "--dry-run", "--smoke-calls", "0"]);
    expect(badCount.code).toBe(2);
    expect(badCount.stderr).toContain('--smoke-calls must be a positive whole number, got "0"');
    const badImage = await deploy(["--env", "staging", "--dry-run", "--image", "core:latest\nevil: 1"]);
    expect(badImage.code).toBe(2);
    expect(badImage.stderr).toMatch(/cannot plan the deploy: IMAGE has characters/);
  });
});
