// The deploy plan, built from settings alone: the order of the rollout, what each environment's
// commands name, the rollback aimed at the revision recorded before the deploy, and no secret value
// anywhere in it.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { argText, formatPlan } from "./format.js";
import { buildDeployPlan, type DeploySettings, type RunStep, type Step } from "./plan.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const serviceTemplate = await readFile(path.join(REPO_ROOT, "infra/cloudrun/service.yaml"), "utf8");

function settings(overrides: Partial<DeploySettings> = {}): DeploySettings {
  return {
    env: "staging",
    gcp: { project: "acme-voice-stg", region: "us-east4", service: "voice-core", buildServiceAccount: "voice-builder@acme-voice-stg.iam.gserviceaccount.com" },
    image: { ref: "us-east4-docker.pkg.dev/acme-voice-stg/voice/core:1a2b3c4d5e6f", build: true },
    edge: { wranglerEnv: "staging", publicUrl: "https://voice-staging.acme.test", accountSid: "AC5e1c0a3b7d9f2e4a6c8b0d1f3e5a7c9b" },
    serviceTemplate,
    warmup: { maxTtsWarmupMs: 1000, maxCoreWarmupMs: 5000 },
    smokeCalls: 2,
    expectedTurnLines: 6,
    logExport: { attempts: 12, intervalMs: 10_000 },
    startedAt: "2026-11-21T10:00:00.000Z",
    outDir: "infra/.build/deploy/staging",
    ...overrides,
  };
}

const commandOf = (step: Step) => (step.kind === "run" ? step.command.map(argText).join(" ") : "");
const ids = (steps: Step[]) => steps.map((step) => step.id);

describe("buildDeployPlan", () => {
  const plan = buildDeployPlan(settings());

  it("orders the rollout: secrets, build, record, render, deploy core, ready, deploy edge, warmup, calls, export, verdict", () => {
    expect(ids(plan.steps)).toEqual([
      "check-edge-secrets",
      "build-image",
      "record-revision",
      "render-manifest",
      "deploy-core",
      "wait-ready",
      "deploy-edge",
      "warmup",
      "smoke-call-1",
      "smoke-call-2",
      "export-turn-lines",
      "go-no-go",
    ]);
  });

  it("records the serving revision before the core changes, and rolls back to exactly that revision", () => {
    const record = plan.steps.find((step) => step.id === "record-revision")!;
    expect(record.capture).toBe("PREVIOUS_REVISION");
    expect(commandOf(plan.rollback)).toBe(
      "gcloud run services update-traffic voice-core --project acme-voice-stg --region us-east4 --to-revisions=${PREVIOUS_REVISION}=100",
    );
    // Nothing before the core deploy needs undoing; everything from it on does.
    const deployAt = ids(plan.steps).indexOf("deploy-core");
    expect(plan.steps.map((step) => step.rollbackOnFailure)).toEqual(plan.steps.map((_, i) => i >= deployAt));
    expect(ids(plan.steps).indexOf("record-revision")).toBeLessThan(deployAt);
  });

  it("deploys the rendered manifest with the image just built", () => {
    const build = plan.steps.find((step) => step.id === "build-image")!;
    expect(commandOf(build)).toBe(
      "gcloud builds submit --project acme-voice-stg --region us-east4 --config infra/cloudrun/cloudbuild.yaml " +
        "--service-account projects/acme-voice-stg/serviceAccounts/voice-builder@acme-voice-stg.iam.gserviceaccount.com " +
        "--substitutions _IMAGE=us-east4-docker.pkg.dev/acme-voice-stg/voice/core:1a2b3c4d5e6f .",
    );
    const render = plan.steps.find((step) => step.id === "render-manifest")!;
    expect(render.kind === "write" && render.content).toContain("image: us-east4-docker.pkg.dev/acme-voice-stg/voice/core:1a2b3c4d5e6f");
    expect(render.kind === "write" && render.path).toBe("infra/.build/deploy/staging/service.yaml");
    expect(commandOf(plan.steps.find((step) => step.id === "deploy-core")!)).toBe(
      "gcloud run services replace infra/.build/deploy/staging/service.yaml --project acme-voice-stg --region us-east4",
    );
  });

  it("warms up through the edge with the deploy token and checks the timings against the bounds", () => {
    const warmup = plan.steps.find((step) => step.id === "warmup")!;
    expect(warmup).toMatchObject({ kind: "http", url: "https://voice-staging.acme.test/health/warmup", headers: { Authorization: ["Bearer ", { secret: "DEPLOY_TOKEN" }] } });
    expect(warmup.check!.describe).toBe("ok true, greeting and hold phrase in KV, tts_warmup_ms <= 1000, core_warmup_ms <= 5000");
    expect(warmup.check!.read(JSON.stringify({ ok: true, greeting_key: "k", greeting_cached: true, hold_key: "h", hold_cached: true, tts_warmup_ms: 1200, core_warmup_ms: 90 }))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/tts_warmup_ms 1200 > 1000/),
    });
  });

  it("places the smoke calls on the edge's public URL and feeds their reports and the TURN export to the GO/NO-GO tool", () => {
    const calls = plan.steps.filter((step): step is RunStep => step.id.startsWith("smoke-call-"));
    for (const call of calls) {
      expect(commandOf(call)).toBe("npm run --silent call -- --url https://voice-staging.acme.test --account-sid AC5e1c0a3b7d9f2e4a6c8b0d1f3e5a7c9b --json");
      expect(call.env).toEqual({ TWILIO_AUTH_TOKEN: { secret: "TWILIO_AUTH_TOKEN" } });
    }
    const exportStep = plan.steps.find((step) => step.id === "export-turn-lines") as RunStep;
    expect(commandOf(exportStep)).toBe(
      "gcloud logging read " +
        'resource.type="cloud_run_revision" AND resource.labels.service_name="voice-core" AND resource.labels.revision_name="${NEW_REVISION}" ' +
        'AND jsonPayload.message="TURN" AND timestamp>="2026-11-21T10:00:00.000Z" --project acme-voice-stg --format=json --order=asc --limit=5000',
    );
    const verdict = plan.steps.at(-1) as RunStep;
    expect(commandOf(verdict)).toBe(
      "npm run --silent go-no-go -- infra/.build/deploy/staging/smoke-call-1.json infra/.build/deploy/staging/smoke-call-2.json infra/.build/deploy/staging/turn-lines.json",
    );
    expect(verdict.exitMeanings).toEqual({ 1: "NO-GO", 2: "unusable input to the GO/NO-GO tool" });
  });

  it("skips the build when an existing image is deployed, and deploys that image", () => {
    const promoted = buildDeployPlan(settings({ env: "production", image: { ref: "us-east4-docker.pkg.dev/acme-voice-stg/voice/core:1a2b3c4d5e6f", build: false } }));
    expect(ids(promoted.steps)).not.toContain("build-image");
    const render = promoted.steps.find((step) => step.id === "render-manifest")!;
    expect(render.kind === "write" && render.content).toContain("image: us-east4-docker.pkg.dev/acme-voice-stg/voice/core:1a2b3c4d5e6f");
  });

  it("names each environment's own project, worker environment and URL", () => {
    const production = buildDeployPlan(
      settings({
        env: "production",
        gcp: { project: "acme-voice-prd", region: "us-east4", service: "voice-core", buildServiceAccount: "voice-builder@acme-voice-prd.iam.gserviceaccount.com" },
        image: { ref: "us-east4-docker.pkg.dev/acme-voice-prd/voice/core:1a2b3c4d5e6f", build: true },
        edge: { wranglerEnv: "production", publicUrl: "https://voice.acme.test", accountSid: "AC5e1c0a3b7d9f2e4a6c8b0d1f3e5a7c9b" },
        outDir: "infra/.build/deploy/production",
        smokeCalls: 3,
      }),
    );
    const text = formatPlan(production);
    expect(text).toContain("npx wrangler deploy --env production");
    expect(text).toContain("npx wrangler secret list --env production --format json");
    expect(text).toContain("curl -fsS -H 'Authorization: Bearer <secret:DEPLOY_TOKEN>' https://voice.acme.test/health/warmup");
    expect(text).toContain("--to-revisions=${PREVIOUS_REVISION}=100");
    expect(text).not.toMatch(/acme-voice-stg|--env staging|voice-staging/);
    expect(production.steps.filter((step) => step.id.startsWith("smoke-call-"))).toHaveLength(3);
  });

  it("holds secret names only: the plan and its printout carry no value", () => {
    const printed = formatPlan(plan);
    expect(plan.secrets).toEqual(["DEPLOY_TOKEN", "TWILIO_AUTH_TOKEN"]);
    expect(printed).toContain("TWILIO_AUTH_TOKEN='<secret:TWILIO_AUTH_TOKEN>' npm run --silent call");
    // Serialised whole (functions aside), a plan has no place a value could hide: secrets are {secret: NAME}.
    const serialised = JSON.stringify(plan);
    expect(serialised.match(/"secret":"[A-Z_]+"/g)).toEqual(expect.arrayContaining(['"secret":"DEPLOY_TOKEN"', '"secret":"TWILIO_AUTH_TOKEN"']));
  });
});

describe("formatPlan", () => {
  it("prints each step numbered with its command and check, then the rollback and from which step it applies", () => {
    const text = formatPlan(buildDeployPlan(settings()));
    const lines = text.split("\n");
    expect(lines[0]).toBe(" 1. check the edge's secrets are set");
    expect(lines).toContain(" 3. record the revision serving now -> ${PREVIOUS_REVISION}");
    expect(lines).toContain(" 6. check the new revision is ready and serves all traffic -> ${NEW_REVISION}");
    expect(lines).toContain("    (repeated up to 12 times, 10 s apart, until the check passes; then goes on with the last output)");
    expect(lines).toContain(
      "    npm run --silent go-no-go -- infra/.build/deploy/staging/smoke-call-1.json infra/.build/deploy/staging/smoke-call-2.json infra/.build/deploy/staging/turn-lines.json | tee infra/.build/deploy/staging/verdict.txt",
    );
    expect(lines.at(-2)).toBe(
      "On a failure from step 5 on, on NO-GO, or on unusable input to the GO/NO-GO tool: move all traffic back to the revision recorded before the deploy",
    );
  });
});
