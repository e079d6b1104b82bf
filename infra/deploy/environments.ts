// Where each environment lives on Google Cloud, and the bounds its deploy is held to. The edge's side
// (public URL, KV namespace, the core's URL) is in wrangler.toml's [env.<name>] sections.
//
// One Google Cloud project per environment, so staging can never touch production's secrets, logs
// or quotas; inside each, the same names (service voice-core, secrets core-shared-secret and
// openai-api-key, Artifact Registry repository "voice"). Project ids are globally unique: write
// yours here (README "Deploy", step 1).
import type { WarmupBounds } from "./checks.js";

export interface Environment {
  project: string;
  /**
   * us-east4 (Ashburn): Twilio's default media region (us1) is in Ashburn, so the Cloudflare point
   * of presence the edge runs in for a call, and OpenAI, are a few ms from the core there.
   */
  region: string;
  service: string;
  /** Artifact Registry repository (Docker format) in the project and region. */
  repository: string;
  /** Short name of the deployer's service account: it rolls out (Cloud Run, traffic) and submits builds. */
  deployer: string;
  /**
   * Short name of the build identity Cloud Build runs as: it reads the uploaded source and pushes the
   * image, and can deploy nothing (README "Deploy", step 4).
   */
  builder: string;
  warmup: WarmupBounds;
  /** GO is judged over two calls (ARCHITECTURE.md, Turn metrics and targets; infra/go-no-go/thresholds.ts min_calls). */
  smokeCalls: number;
}

const shared = {
  region: "us-east4",
  service: "voice-core",
  repository: "voice",
  deployer: "voice-deployer",
  builder: "voice-builder",
  // Right after a deploy the core has warmed at start, so /health/warmup finds every phrase cached:
  // TTS warmup is near 0, and above the 1000 ms "warmup did not run" line (thresholds.ts tts_cold_ms) only on a miss.
  // The edge-to-core warmup is one round trip plus that.
  warmup: { maxTtsWarmupMs: 1000, maxCoreWarmupMs: 5000 },
  smokeCalls: 2,
} satisfies Omit<Environment, "project">;

export const ENVIRONMENTS = {
  staging: { ...shared, project: "voice-agent-staging" },
  production: { ...shared, project: "voice-agent-production" },
} satisfies Record<string, Environment>;

export type EnvironmentName = keyof typeof ENVIRONMENTS;

export function isEnvironmentName(name: string): name is EnvironmentName {
  return Object.hasOwn(ENVIRONMENTS, name);
}

export function imageRepository(environment: Environment): string {
  return `${environment.region}-docker.pkg.dev/${environment.project}/${environment.repository}/core`;
}

export function deployerAccount(environment: Environment): string {
  return `${environment.deployer}@${environment.project}.iam.gserviceaccount.com`;
}

export function builderAccount(environment: Environment): string {
  return `${environment.builder}@${environment.project}.iam.gserviceaccount.com`;
}
