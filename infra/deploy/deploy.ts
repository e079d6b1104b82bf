// npm run deploy -- --env staging|production [--dry-run] [--image REF | --tag TAG] [options]
// Builds and deploys the core, deploys the edge, warms up, places smoke calls, gates on the GO/NO-GO
// tool, and on NO-GO moves Cloud Run traffic back. Exit 0: deployed and GO; 1: a step failed or
// NO-GO (traffic moved back where there was a revision to move it to); 2: refused before doing
// anything (bad usage, placeholders in the configuration, secrets not set).
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import defaultScript from "../caller-scripts/default.he.json" with { type: "json" };
import { builderAccount, ENVIRONMENTS, imageRepository, isEnvironmentName, type EnvironmentName } from "./environments.js";
import { executePlan, type Outcome } from "./execute.js";
import { formatPlan } from "./format.js";
import { buildDeployPlan, type DeploySettings } from "./plan.js";
import { placeholderProblems, readWranglerEnvironment } from "./wrangler-env.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

const USAGE = `usage: npm run deploy -- --env staging|production [options]
  --dry-run                print every command the deploy would run (secrets redacted) and run none
  --image REF              deploy this existing image instead of building one (e.g. promote staging's)
  --tag TAG                tag of the image built (default: $GITHUB_SHA or git HEAD, 12 characters)
  --project ID, --region R override infra/deploy/environments.ts
  --smoke-calls N          smoke calls through the edge (default 2)
  --max-tts-warmup-ms MS   bound on the core's TTS warmup reported by /health/warmup (default 1000)
  --max-core-warmup-ms MS  bound on the edge's call to the core's warmup (default 5000)
  --out DIR                where the manifest, call reports, log export and verdict go
                           (default infra/.build/deploy/<env>)
Secrets read from the environment: DEPLOY_TOKEN (edge /health/warmup), TWILIO_AUTH_TOKEN (smoke calls).
gcloud and wrangler use their own credentials (gcloud auth, CLOUDFLARE_API_TOKEN).`;

class UsageError extends Error {}

function positiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new UsageError(`${flag} must be a positive whole number, got "${value}"`);
  return number;
}

function imageTag(given: string | undefined): string {
  if (given !== undefined) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(given)) throw new UsageError(`--tag "${given}" is not a valid image tag`);
    return given;
  }
  if (process.env.GITHUB_SHA) return process.env.GITHUB_SHA.slice(0, 12);
  try {
    return execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
  } catch {
    throw new UsageError("cannot read the git commit for the image tag: pass --tag");
  }
}

interface Cli {
  settings: DeploySettings;
  dryRun: boolean;
  placeholders: string[];
}

async function readCli(argv: string[]): Promise<Cli | "help"> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        env: { type: "string" },
        "dry-run": { type: "boolean", default: false },
        image: { type: "string" },
        tag: { type: "string" },
        project: { type: "string" },
        region: { type: "string" },
        "smoke-calls": { type: "string" },
        "max-tts-warmup-ms": { type: "string" },
        "max-core-warmup-ms": { type: "string" },
        out: { type: "string" },
        help: { type: "boolean", default: false },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return "help";
  if (!values.env || !isEnvironmentName(values.env)) throw new UsageError(`--env must be one of ${Object.keys(ENVIRONMENTS).join(", ")}`);
  if (values.image !== undefined && values.tag !== undefined) throw new UsageError("--image deploys an existing image; --tag names one to build: give one");
  const name: EnvironmentName = values.env;
  const environment = { ...ENVIRONMENTS[name], ...(values.project && { project: values.project }), ...(values.region && { region: values.region }) };
  let edge;
  try {
    edge = await readWranglerEnvironment(path.join(REPO_ROOT, "wrangler.toml"), name);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const smokeCalls = positiveInt(values["smoke-calls"], "--smoke-calls", environment.smokeCalls);
  const outDir = path.relative(REPO_ROOT, path.resolve(values.out ?? path.join(REPO_ROOT, "infra/.build/deploy", name))) || ".";

  const settings: DeploySettings = {
    env: name,
    gcp: { project: environment.project, region: environment.region, service: environment.service, buildServiceAccount: builderAccount(environment) },
    image: values.image !== undefined ? { ref: values.image, build: false } : { ref: `${imageRepository(environment)}:${imageTag(values.tag)}`, build: true },
    edge: { wranglerEnv: name, publicUrl: edge.vars.PUBLIC_URL.replace(/\/+$/, ""), accountSid: edge.vars.TWILIO_ACCOUNT_SID },
    serviceTemplate: await readFile(path.join(REPO_ROOT, "infra/cloudrun/service.yaml"), "utf8"),
    warmup: {
      maxTtsWarmupMs: positiveInt(values["max-tts-warmup-ms"], "--max-tts-warmup-ms", environment.warmup.maxTtsWarmupMs),
      maxCoreWarmupMs: positiveInt(values["max-core-warmup-ms"], "--max-core-warmup-ms", environment.warmup.maxCoreWarmupMs),
    },
    smokeCalls,
    expectedTurnLines: smokeCalls * defaultScript.lines.length,
    logExport: { attempts: 12, intervalMs: 10_000 },
    startedAt: new Date().toISOString(),
    outDir,
  };
  return { settings, dryRun: values["dry-run"], placeholders: placeholderProblems(name, edge) };
}

function verdictLine(env: string, outcome: Outcome): string {
  switch (outcome.status) {
    case "go":
      return `GO: ${env} serves revision ${outcome.newRevision}`;
    case "refused":
      return `refused: ${outcome.reason}`;
    case "failed": {
      const traffic = outcome.rolledBackTo
        ? `traffic moved back to ${outcome.rolledBackTo}`
        : outcome.rollbackError
          ? `ROLLBACK FAILED (${outcome.rollbackError}): move traffic by hand`
          : "traffic not moved";
      const what = outcome.step === "go-no-go" ? outcome.reason : `FAILED at ${outcome.step}: ${outcome.reason}`;
      return `${what}; ${traffic}`;
    }
  }
}

async function main(argv: string[]): Promise<number> {
  let cli;
  try {
    cli = await readCli(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n${USAGE}`);
    return 2;
  }
  if (cli === "help") {
    console.log(USAGE);
    return 0;
  }
  let plan;
  try {
    plan = buildDeployPlan(cli.settings);
  } catch (error) {
    console.error(`cannot plan the deploy: ${(error as Error).message}`);
    return 2;
  }
  const { settings } = cli;
  const header = `Deploy ${settings.env}: project ${settings.gcp.project}, region ${settings.gcp.region}, image ${settings.image.ref}`;
  if (cli.dryRun) {
    console.log(`${header} (dry run: nothing is run)\n\n${formatPlan(plan)}`);
    if (cli.placeholders.length) console.log(`\nA real run would refuse:\n  ${cli.placeholders.join("\n  ")}`);
    return 0;
  }
  if (cli.placeholders.length) {
    console.error(`refused:\n  ${cli.placeholders.join("\n  ")}\n(README "Deploy" says where each value comes from)`);
    return 2;
  }
  console.log(`${header}\n\n${formatPlan(plan)}\n`);
  const outcome = await executePlan(plan, {
    env: process.env,
    cwd: REPO_ROOT,
    log: (line) => console.log(line),
    output: (chunk) => process.stdout.write(chunk),
  });
  console.log(`\n${verdictLine(settings.env, outcome)}`);
  return outcome.status === "go" ? 0 : outcome.status === "refused" ? 2 : 1;
}

process.exitCode = await main(process.argv.slice(2)).catch((error: unknown) => {
  // Steps report their own failures; this is anything else (an unreadable file of the repository, say).
  console.error(`deploy stopped: ${error instanceof Error ? error.message : String(error)}`);
  return 1;
});
