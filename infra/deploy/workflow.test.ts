// .github/workflows/deploy.yml as GitHub reads it: when it runs, with which identity, and that its
// deploy is the one script (no second copy of the pipeline in YAML). Then the CI/CD rules of README
// "Security": only the deploy job can request an identity token, every action is pinned to a commit,
// and neither git nor the Cloud Build upload takes .env or key files.
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { builderAccount, deployerAccount, ENVIRONMENTS } from "./environments.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface WorkflowStep {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  if?: string;
}
type Permissions = string | Record<string, string> | undefined;
interface Workflow {
  on: {
    push: { branches: string[] };
    workflow_dispatch: { inputs: Record<string, { type: string; options?: string[]; default?: string; required?: boolean }> };
  };
  permissions: Permissions;
  concurrency: { group: string; "cancel-in-progress": boolean };
  jobs: Record<
    string,
    { "runs-on": string; environment?: string; needs?: string; permissions?: Permissions; uses?: string; env: Record<string, string>; steps: WorkflowStep[] }
  >;
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
    expect(job.permissions).toEqual({ contents: "read", "id-token": "write" });
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

// ---------------------------------------------------------------------------------------------------
// CI/CD identity and supply chain (README "Security"). Every workflow file, not only deploy.yml.

const WORKFLOW_DIR = path.join(REPO_ROOT, ".github/workflows");
const workflowFiles = (await readdir(WORKFLOW_DIR)).filter((name) => /\.ya?ml$/.test(name)).sort();
const workflows = await Promise.all(
  workflowFiles.map(async (name) => {
    const text = await readFile(path.join(WORKFLOW_DIR, name), "utf8");
    return { name, text, parsed: parseYaml(text) as Workflow };
  }),
);

/** Whether a `permissions:` value lets the job mint GitHub's OIDC token. */
function grantsIdToken(permissions: Permissions): boolean {
  if (permissions === undefined) return false;
  if (typeof permissions === "string") return permissions === "write-all";
  return permissions["id-token"] === "write";
}

describe("only the deploy job can request an identity token", () => {
  it("the workflow level grants contents: read and nothing else", () => {
    expect(workflowFiles).toContain("deploy.yml");
    for (const { name, parsed } of workflows) {
      // Absent would mean the repository's default token permissions, which may be write-all.
      expect(parsed.permissions, name).toEqual({ contents: "read" });
    }
  });

  it("no job but deploy.yml's deploy job has id-token: write (or write-all)", () => {
    const minting = workflows.flatMap(({ name, parsed }) =>
      Object.entries(parsed.jobs)
        .filter(([, body]) => grantsIdToken(body.permissions))
        .map(([id]) => `${name}:${id}`),
    );
    expect(minting).toEqual(["deploy.yml:deploy"]);
  });

  it("the job that runs the tests (npm ci, every install script) cannot mint one, directly or by a called workflow", () => {
    const test = workflow.jobs.test!;
    expect(grantsIdToken(test.permissions) || grantsIdToken(workflow.permissions)).toBe(false);
    expect(test.uses).toBeUndefined();
    expect(job.environment).toBeDefined(); // the environment claim the identity provider requires
  });
});

describe("every action is pinned to a full commit SHA", () => {
  const PINNED = /^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@[0-9a-f]{40}$/;

  it("every uses: in every job and step names a 40-hex commit (or a local ./ path)", () => {
    const unpinned = workflows.flatMap(({ name, parsed }) =>
      Object.entries(parsed.jobs).flatMap(([id, body]) =>
        [body.uses, ...(body.steps ?? []).map((step) => step.uses)]
          .filter((uses): uses is string => uses !== undefined)
          .filter((uses) => !uses.startsWith("./") && !PINNED.test(uses))
          .map((uses) => `${name}:${id}: ${uses}`),
      ),
    );
    expect(unpinned).toEqual([]);
  });

  it("each pin says which release it is (# vX.Y.Z), as the line that carries it", () => {
    for (const { name, text } of workflows) {
      const lines = text.split("\n").filter((line) => /^\s*(-\s+)?uses:/.test(line));
      expect(lines.length, name).toBeGreaterThan(0);
      for (const line of lines) {
        if (/uses:\s*\.\//.test(line)) continue;
        expect(line, name).toMatch(/uses:\s*\S+@[0-9a-f]{40}\s+#\s*v\d+\.\d+\.\d+\s*$/);
      }
    }
  });
});

describe("build identity apart from the deployer", () => {
  it("Cloud Build runs as voice-builder, never as the deployer that rolls out", () => {
    for (const environment of Object.values(ENVIRONMENTS)) {
      expect(builderAccount(environment)).toBe(`voice-builder@${environment.project}.iam.gserviceaccount.com`);
      expect(builderAccount(environment)).not.toBe(deployerAccount(environment));
    }
  });
});

describe(".gitignore and .gcloudignore keep secrets out of git and out of the Cloud Build upload", () => {
  // Real paths, asked of git itself: each ignore file alone becomes the only .gitignore of an empty
  // repository (no global or system excludes), so what it says is all that counts.
  const SECRETS = [
    ".env",
    ".env.local",
    ".env.production",
    "core-node/.env",
    "edge/.env.staging",
    ".dev.vars",
    ".dev.vars.production",
    "key.pem",
    "infra/certs/edge.pem",
    "server.key",
    "voice-deployer-key.json",
    "keys/voice-builder-key.json",
    "google-credentials.json",
    "application_default_credentials.json",
    "core-node/credentials.json",
    "service-account.json",
    "infra/service-account-production.json",
    "gha-creds-4f1c2e9a0b7d3e6f.json",
  ];
  // ... while what the image and the repository need stays.
  const KEPT = [
    ".env.example",
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "core-node/src/credentials.ts",
    "core-node/src/main.ts",
    "protocol/src/index.ts",
    "infra/cloudrun/Dockerfile",
    "infra/cloudrun/build.ts",
    "infra/cloudrun/cloudbuild.yaml",
  ];

  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), "ignore-check-"));
    const init = spawnSync("git", ["init", "-q", scratch], { encoding: "utf8" });
    expect(init.status, init.stderr).toBe(0);
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  /** The paths git ignores under the given ignore file's rules. */
  async function ignoredBy(file: string, paths: string[]): Promise<string[]> {
    await writeFile(path.join(scratch, ".gitignore"), await readFile(path.join(REPO_ROOT, file), "utf8"));
    const result = spawnSync("git", ["-c", "core.excludesFile=/dev/null", "check-ignore", "--no-index", ...paths], { cwd: scratch, encoding: "utf8" });
    // 0: some ignored, 1: none ignored, anything else: git failed.
    expect([0, 1], result.stderr).toContain(result.status);
    return result.stdout.split("\n").filter(Boolean).sort();
  }

  for (const file of [".gitignore", ".gcloudignore"]) {
    it(`${file} ignores .env files and key files`, async () => {
      expect(await ignoredBy(file, SECRETS)).toEqual([...SECRETS].sort());
    });

    it(`${file} keeps .env.example and the sources`, async () => {
      expect(await ignoredBy(file, KEPT)).toEqual([]);
    });
  }

  it(".gcloudignore also carries everything .gitignore names (what gcloud read before it existed)", async () => {
    const lines = (await readFile(path.join(REPO_ROOT, ".gcloudignore"), "utf8")).split("\n").map((line) => line.trim());
    expect(lines).toContain("#!include:.gitignore");
    expect(lines).toContain(".git");
  });
});
