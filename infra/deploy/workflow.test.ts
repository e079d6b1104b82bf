// .github/workflows/deploy.yml as GitHub reads it: when it runs, with which identity, and that its
// deploy is the one script (no second copy of the pipeline in YAML).
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface WorkflowStep {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  if?: string;
}
interface Workflow {
  on: {
    push: { branches: string[] };
    workflow_dispatch: { inputs: Record<string, { type: string; options?: string[]; default?: string; required?: boolean }> };
  };
  permissions: Record<string, string>;
  concurrency: { group: string; "cancel-in-progress": boolean };
  jobs: Record<string, { "runs-on": string; environment?: string; needs?: string; env: Record<string, string>; steps: WorkflowStep[] }>;
}

const workflow = parseYaml(await readFile(path.join(REPO_ROOT, ".github/workflows/deploy.yml"), "utf8")) as Workflow;
const job = workflow.jobs.deploy!;
const steps = job.steps;
const indexOf = (predicate: (step: WorkflowStep) => boolean) => steps.findIndex(predicate);

describe(".github/workflows/deploy.yml", () => {
  it("deploys staging on a push to main and either environment by hand", () => {
    expect(workflow.on.push.branches).toEqual(["main"]);
    expect(workflow.on.workflow_dispatch.inputs.environment).toMatchObject({ type: "choice", options: ["staging", "production"], default: "staging" });
    expect(job.env.DEPLOY_ENV).toBe("${{ inputs.environment || 'staging' }}");
    expect(job.environment).toBe(job.env.DEPLOY_ENV);
    // Two deploys of one environment never interleave, and a rollout is never cut halfway.
    expect(workflow.concurrency).toEqual({ group: "deploy-${{ inputs.environment || 'staging' }}", "cancel-in-progress": false });
  });

  it("authenticates to Google with workload identity federation, no stored key", () => {
    expect(workflow.permissions["id-token"]).toBe("write");
    const auth = steps.find((step) => step.uses?.startsWith("google-github-actions/auth@"))!;
    expect(Object.keys(auth.with ?? {}).sort()).toEqual(["service_account", "workload_identity_provider"]);
    expect(JSON.stringify(workflow)).not.toMatch(/credentials_json/);
  });

  it("installs with Node 20 and npm ci before it deploys", () => {
    const node = steps.find((step) => step.uses?.startsWith("actions/setup-node@"))!;
    expect(node.with?.["node-version"]).toBe(20);
    const deployAt = indexOf((step) => step.run?.includes("npm run deploy") ?? false);
    expect(indexOf((step) => step.uses?.startsWith("actions/checkout@") ?? false)).toBeLessThan(deployAt);
    expect(indexOf((step) => step.run === "npm ci")).toBeLessThan(deployAt);
    expect(indexOf((step) => step.uses?.startsWith("google-github-actions/auth@") ?? false)).toBeLessThan(deployAt);
    expect(indexOf((step) => step.uses?.startsWith("google-github-actions/setup-gcloud@") ?? false)).toBeLessThan(deployAt);
  });

  it("deploys only what passed the project's CI command", () => {
    expect(job.needs).toBe("test");
    expect(workflow.jobs.test!.steps.some((step) => step.run === "bash .ci/run")).toBe(true);
  });

  it("runs the deploy script for the chosen environment, with its secrets from GitHub's store", () => {
    const deploy = steps.filter((step) => step.run?.includes("npm run deploy"));
    expect(deploy).toHaveLength(1);
    expect(deploy[0]!.run).toMatch(/^npm run deploy -- --env "\$DEPLOY_ENV" /);
    for (const name of ["DEPLOY_TOKEN", "TWILIO_AUTH_TOKEN", "CLOUDFLARE_API_TOKEN"]) {
      expect(deploy[0]!.env?.[name]).toBe(`\${{ secrets.${name} }}`);
    }
    // No gcloud or wrangler of its own: the pipeline is the script, so --dry-run shows all of it.
    expect(steps.filter((step) => /\b(gcloud|wrangler)\b/.test(step.run ?? ""))).toEqual([]);
  });

  it("keeps the deploy's report, GO or not", () => {
    const upload = steps.find((step) => step.uses?.startsWith("actions/upload-artifact@"))!;
    expect(upload.if).toBe("always()");
    expect(upload.with?.path).toBe("deploy-report");
    expect(steps.find((step) => step.run?.includes("npm run deploy"))!.run).toContain("--out deploy-report");
  });
});
