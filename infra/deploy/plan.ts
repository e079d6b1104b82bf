// The deploy as data: settings in, an ordered list of steps out (pure; no clock, no environment, no
// I/O). The executor (execute.ts) runs the steps; `--dry-run` prints them (format.ts). A plan holds
// secret *names* only, never values: the executor reads the values from its environment when it runs
// a step, so a printed plan cannot leak one.
import {
  checkWarmup,
  countLogEntries,
  EDGE_SECRETS,
  missingEdgeSecrets,
  readyRevision,
  servingRevision,
  smokeCallProblems,
  type StepResult,
  type WarmupBounds,
} from "./checks.js";
import { renderServiceManifest } from "./manifest.js";

/** Secrets the pipeline itself uses (the edge's three are set with `wrangler secret put`, the core's in Secret Manager). */
export type SecretName = "DEPLOY_TOKEN" | "TWILIO_AUTH_TOKEN";
/** Values steps capture from their output for later steps. */
export type CaptureName = "PREVIOUS_REVISION" | "NEW_REVISION";

/** A piece of an argument: literal text, a secret read at run time, or a value a step captured. */
export type Part = string | { secret: SecretName } | { ref: CaptureName };
/** One argument (or header value): its parts are concatenated. */
export type Arg = Part | Part[];

export const secret = (name: SecretName): Part => ({ secret: name });
export const ref = (name: CaptureName): Part => ({ ref: name });

/** Reads a step's output: ok (optionally with a value to capture), or the reason it is not. */
export interface OutputCheck {
  /** What is checked, in words (printed in the plan). */
  describe: string;
  read(output: string): StepResult;
}

interface StepBase {
  /** Stable id (tests and logs). */
  id: string;
  title: string;
  /** A failure after the core is deployed moves traffic back (the plan's rollback step). */
  rollbackOnFailure: boolean;
  check?: OutputCheck;
  /** Stores the check's value under this name for later steps. */
  capture?: CaptureName;
}

export interface RunStep extends StepBase {
  kind: "run";
  command: Arg[];
  /** Added to the child's environment. */
  env?: Record<string, Arg>;
  /** Where the command's stdout is saved. */
  stdoutFile?: string;
  /** Print the command's stdout as it runs (off for JSON that only a check reads). */
  echo: boolean;
  /** Exit codes that end the deploy, with what they mean; any other non-zero code is "failed". */
  exitMeanings?: Record<number, string>;
  /** Run again while the check fails, up to `attempts` times, `intervalMs` apart; the last output is kept either way. */
  retry?: { attempts: number; intervalMs: number; keepLast: boolean };
}

export interface HttpStep extends StepBase {
  kind: "http";
  method: "GET";
  url: string;
  headers: Record<string, Arg>;
  timeoutMs: number;
  responseFile: string;
}

export interface WriteStep extends StepBase {
  kind: "write";
  path: string;
  content: string;
  /** What the content is, for the printed plan (the content itself is a file's worth). */
  summary: string;
}

export type Step = RunStep | HttpStep | WriteStep;

export interface DeployPlan {
  env: string;
  steps: Step[];
  /** Moves all traffic back to the revision recorded before the deploy (when there was one). */
  rollback: RunStep;
  /** Secrets the executor must find in its environment before it starts. */
  secrets: SecretName[];
}

export interface DeploySettings {
  env: "staging" | "production";
  gcp: {
    project: string;
    region: string;
    /** Cloud Run service name (metadata.name of infra/cloudrun/service.yaml). */
    service: string;
    /** The account Cloud Build runs as (the build identity, voice-builder; never the deployer). */
    buildServiceAccount: string;
  };
  /** The image to deploy; `build` false deploys an existing one (e.g. staging's, promoted). */
  image: { ref: string; build: boolean };
  /** `accountSid`: the Twilio account the edge answers; the smoke calls are calls of it. */
  edge: { wranglerEnv: string; publicUrl: string; accountSid: string };
  /** Text of infra/cloudrun/service.yaml. */
  serviceTemplate: string;
  warmup: WarmupBounds;
  smokeCalls: number;
  /** TURN lines the export should hold once every smoke call is logged (calls x caller lines). */
  expectedTurnLines: number;
  /** Cloud Logging shows a line within seconds to a minute: the export is retried until it has them all. */
  logExport: { attempts: number; intervalMs: number };
  /** ISO time the deploy started; the export takes TURN lines from then on. */
  startedAt: string;
  /** Directory for the files the deploy writes (manifest, call reports, export, verdict). */
  outDir: string;
}

const BUILD_CONFIG = "infra/cloudrun/cloudbuild.yaml";

function file(settings: DeploySettings, name: string): string {
  return `${settings.outDir.replace(/\/+$/, "")}/${name}`;
}

/** The Cloud Logging filter of the new revision's TURN lines since the deploy started. */
export function turnLogFilter(settings: DeploySettings): Part[] {
  return [
    `resource.type="cloud_run_revision" AND resource.labels.service_name="${settings.gcp.service}"`,
    ` AND resource.labels.revision_name="`,
    ref("NEW_REVISION"),
    `" AND jsonPayload.message="TURN" AND timestamp>="${settings.startedAt}"`,
  ];
}

export function buildDeployPlan(settings: DeploySettings): DeployPlan {
  const { gcp, edge } = settings;
  const where = ["--project", gcp.project, "--region", gcp.region];
  const manifestPath = file(settings, "service.yaml");
  const smokeFiles = Array.from({ length: settings.smokeCalls }, (_, i) => file(settings, `smoke-call-${i + 1}.json`));
  const exportFile = file(settings, "turn-lines.json");
  const steps: Step[] = [];

  steps.push({
    kind: "run",
    id: "check-edge-secrets",
    title: "check the edge's secrets are set",
    command: ["npx", "wrangler", "secret", "list", "--env", edge.wranglerEnv, "--format", "json"],
    echo: false,
    rollbackOnFailure: false,
    check: { describe: `${EDGE_SECRETS.join(", ")} are set`, read: missingEdgeSecrets },
  });
  if (settings.image.build) {
    steps.push({
      kind: "run",
      id: "build-image",
      title: "build and push the core image",
      command: [
        "gcloud", "builds", "submit", ...where,
        "--config", BUILD_CONFIG,
        "--service-account", `projects/${gcp.project}/serviceAccounts/${gcp.buildServiceAccount}`,
        "--substitutions", `_IMAGE=${settings.image.ref}`,
        ".",
      ],
      echo: true,
      rollbackOnFailure: false,
    });
  }
  steps.push(
    {
      kind: "run",
      id: "record-revision",
      title: "record the revision serving now",
      command: ["gcloud", "run", "services", "list", "--project", gcp.project, "--region", gcp.region, `--filter=metadata.name=${gcp.service}`, "--format=json"],
      echo: false,
      rollbackOnFailure: false,
      check: { describe: "the revision with the most traffic (none on a first deploy)", read: servingRevision },
      capture: "PREVIOUS_REVISION",
    },
    {
      kind: "write",
      id: "render-manifest",
      title: "render the service definition",
      path: manifestPath,
      content: renderServiceManifest(settings.serviceTemplate, { IMAGE: settings.image.ref, PROJECT_ID: gcp.project }),
      summary: `infra/cloudrun/service.yaml with IMAGE=${settings.image.ref} PROJECT_ID=${gcp.project}`,
      rollbackOnFailure: false,
    },
    {
      kind: "run",
      id: "deploy-core",
      title: "deploy the core (waits for the new revision's startup probe, i.e. its warmup)",
      command: ["gcloud", "run", "services", "replace", manifestPath, ...where],
      echo: true,
      rollbackOnFailure: true,
    },
    {
      kind: "run",
      id: "wait-ready",
      title: "check the new revision is ready and serves all traffic",
      command: ["gcloud", "run", "services", "describe", gcp.service, ...where, "--format=json"],
      echo: false,
      rollbackOnFailure: true,
      check: { describe: "Ready, latest created = latest ready, 100% on it", read: readyRevision },
      capture: "NEW_REVISION",
    },
    {
      kind: "run",
      id: "deploy-edge",
      title: "deploy the edge",
      command: ["npx", "wrangler", "deploy", "--env", edge.wranglerEnv],
      echo: true,
      rollbackOnFailure: true,
    },
    {
      kind: "http",
      id: "warmup",
      title: "warm up through the edge (KV phrases, core warmup)",
      method: "GET",
      url: `${edge.publicUrl}/health/warmup`,
      headers: { Authorization: ["Bearer ", secret("DEPLOY_TOKEN")] },
      // The edge allows the core 30 s for its warmup and 15 s per phrase.
      timeoutMs: 60_000,
      responseFile: file(settings, "warmup.json"),
      rollbackOnFailure: true,
      check: {
        describe: `ok true, greeting and hold phrase in KV, tts_warmup_ms <= ${settings.warmup.maxTtsWarmupMs}, core_warmup_ms <= ${settings.warmup.maxCoreWarmupMs}`,
        read: (body) => checkWarmup(body, settings.warmup),
      },
    },
  );
  smokeFiles.forEach((smokeFile, i) =>
    steps.push({
      kind: "run",
      id: `smoke-call-${i + 1}`,
      title: `smoke call ${i + 1} of ${settings.smokeCalls} through the edge`,
      // The Twilio token goes in the environment (the simulator's default), not on the command line.
      command: ["npm", "run", "--silent", "call", "--", "--url", edge.publicUrl, "--account-sid", edge.accountSid, "--json"],
      env: { TWILIO_AUTH_TOKEN: secret("TWILIO_AUTH_TOKEN") },
      stdoutFile: smokeFile,
      echo: false,
      rollbackOnFailure: true,
      check: { describe: "the call completed without errors", read: smokeCallProblems },
    }),
  );
  steps.push(
    {
      kind: "run",
      id: "export-turn-lines",
      title: "export the new revision's TURN lines",
      command: ["gcloud", "logging", "read", turnLogFilter(settings), "--project", gcp.project, "--format=json", "--order=asc", "--limit=5000"],
      stdoutFile: exportFile,
      echo: false,
      rollbackOnFailure: true,
      check: {
        describe: `at least ${settings.expectedTurnLines} TURN lines (Cloud Logging may take a minute)`,
        read: (output) => countLogEntries(output, settings.expectedTurnLines),
      },
      retry: { ...settings.logExport, keepLast: true },
    },
    {
      kind: "run",
      id: "go-no-go",
      title: "GO/NO-GO on the smoke calls and the TURN lines",
      command: ["npm", "run", "--silent", "go-no-go", "--", ...smokeFiles, exportFile],
      stdoutFile: file(settings, "verdict.txt"),
      echo: true,
      rollbackOnFailure: true,
      exitMeanings: { 1: "NO-GO", 2: "unusable input to the GO/NO-GO tool" },
    },
  );

  const rollback: RunStep = {
    kind: "run",
    id: "rollback",
    title: "move all traffic back to the revision recorded before the deploy",
    command: ["gcloud", "run", "services", "update-traffic", gcp.service, ...where, ["--to-revisions=", ref("PREVIOUS_REVISION"), "=100"]],
    echo: true,
    rollbackOnFailure: false,
  };
  return { env: settings.env, steps, rollback, secrets: ["DEPLOY_TOKEN", "TWILIO_AUTH_TOKEN"] };
}
