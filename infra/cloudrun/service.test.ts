// infra/cloudrun/service.yaml, as `gcloud run services replace` reads it: every setting a WebSocket
// voice service needs, secrets only by reference, settings the core's own config accepts and that
// agree with the edge's, and placeholders the deploy fills.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseToml } from "smol-toml";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { WRAP_UP_MAX_MS } from "../../core-node/src/call/session.js";
import { loadConfig } from "../../core-node/src/config.js";
import { manifestPlaceholders, renderServiceManifest } from "../deploy/manifest.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string } };
}
interface Probe {
  httpGet?: { path: string; port: number };
  periodSeconds: number;
  timeoutSeconds: number;
  failureThreshold: number;
}
interface KnativeService {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations: Record<string, string> };
  spec: {
    template: {
      metadata: { annotations: Record<string, string> };
      spec: {
        serviceAccountName: string;
        timeoutSeconds: number;
        containerConcurrency: number;
        volumes?: Array<{ name: string; secret?: { secretName: string; items: Array<{ key: string; path: string }> } }>;
        containers: Array<{
          image: string;
          ports: Array<{ name: string; containerPort: number }>;
          env: EnvVar[];
          volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
          startupProbe: Probe;
          livenessProbe: Probe;
        }>;
      };
    };
    traffic: Array<{ latestRevision?: boolean; percent: number }>;
  };
}

const template = await readFile(path.join(REPO_ROOT, "infra/cloudrun/service.yaml"), "utf8");
const IMAGE = "us-east4-docker.pkg.dev/p-test/voice/core:abc123";
const rendered = renderServiceManifest(template, { IMAGE, PROJECT_ID: "p-test" });
const service = parseYaml(rendered) as KnativeService;
const revision = service.spec.template;
const container = revision.spec.containers[0]!;
const env = new Map(container.env.map((variable) => [variable.name, variable]));

/** The local agent file stands in for the mounted secret (its tools call the local booking service). */
const STAND_IN_AGENT_FILE = path.join(REPO_ROOT, "infra/local/agent.he.json");

/** The core's config as this revision's literal settings make it (secrets and the agent file stand in). */
function coreConfig() {
  const literal = Object.fromEntries(container.env.filter((v) => v.value !== undefined).map((v) => [v.name, v.value]));
  return loadConfig({ ...literal, AGENT_FILE: STAND_IN_AGENT_FILE, CORE_SHARED_SECRET: "a-secret-of-16-chars-at-least", TOOL_SIGNING_SECRET: "another-secret-of-16-chars" });
}

describe("infra/cloudrun/service.yaml", () => {
  it("is a Knative Service whose placeholders are exactly the image and the project", () => {
    expect(service).toMatchObject({ apiVersion: "serving.knative.dev/v1", kind: "Service", metadata: { name: "voice-core" } });
    expect(manifestPlaceholders(template)).toEqual(["IMAGE", "PROJECT_ID"]);
    expect(rendered).not.toContain("${");
    expect(revision.spec.containers).toHaveLength(1);
    expect(container.image).toBe(IMAGE);
    expect(revision.spec.serviceAccountName).toBe("voice-core@p-test.iam.gserviceaccount.com");
  });

  it("keeps calls up to an hour on warm, unthrottled, sticky instances", () => {
    expect(revision.spec.timeoutSeconds).toBe(3600);
    const annotations = revision.metadata.annotations;
    expect(Number(annotations["autoscaling.knative.dev/minScale"])).toBeGreaterThanOrEqual(1);
    expect(annotations["run.googleapis.com/cpu-throttling"]).toBe("false");
    expect(annotations["run.googleapis.com/startup-cpu-boost"]).toBe("true");
    expect(annotations["run.googleapis.com/sessionAffinity"]).toBe("true");
    expect(container.ports).toEqual([{ name: "http1", containerPort: 8080 }]);
  });

  it("sets a concurrency, with the measurement that decides it written next to it", () => {
    expect(revision.spec.containerConcurrency).toBeGreaterThanOrEqual(1);
    expect(revision.spec.containerConcurrency).toBeLessThanOrEqual(1000);
    expect(template).toMatch(/capacity benchmark sets the final value/);
    expect(template).not.toMatch(/TODO|FIXME/);
  });

  it("sends an instance no more calls than the core takes, and ends a call before Cloud Run cuts it", () => {
    const config = coreConfig();
    expect(revision.spec.containerConcurrency).toBe(config.MAX_CALLS);
    // The core's wrap-up (CALL_LIMIT_TEXT, then close) must end before the request timeout does.
    expect(config.MAX_CALL_MS + WRAP_UP_MAX_MS).toBeLessThanOrEqual(revision.spec.timeoutSeconds * 1000);
  });

  it("is reachable by the edge: public ingress, admission by the core's own token", () => {
    expect(service.metadata.annotations["run.googleapis.com/ingress"]).toBe("all");
    expect(service.metadata.annotations["run.googleapis.com/invoker-iam-disabled"]).toBe("true");
  });

  it("probes /health on the serving port: startup (open only after warmup) within Cloud Run's 240 s, then liveness", () => {
    for (const probe of [container.startupProbe, container.livenessProbe]) {
      expect(probe.httpGet).toEqual({ path: "/health", port: 8080 });
      expect(probe.timeoutSeconds).toBeLessThanOrEqual(probe.periodSeconds);
    }
    const startupBudget = container.startupProbe.periodSeconds * container.startupProbe.failureThreshold;
    expect(startupBudget).toBeGreaterThanOrEqual(30);
    expect(startupBudget).toBeLessThanOrEqual(240);
  });

  it("takes its secrets from Secret Manager, never as a literal value", () => {
    expect(env.get("CORE_SHARED_SECRET")?.valueFrom?.secretKeyRef).toEqual({ name: "core-shared-secret", key: "latest" });
    expect(env.get("OPENAI_API_KEY")?.valueFrom?.secretKeyRef).toEqual({ name: "openai-api-key", key: "latest" });
    expect(env.get("TOOL_SIGNING_SECRET")?.valueFrom?.secretKeyRef).toEqual({ name: "tool-signing-secret", key: "latest" });
    for (const name of ["CORE_SHARED_SECRET", "OPENAI_API_KEY", "TOOL_SIGNING_SECRET"]) expect(env.get(name)?.value, name).toBeUndefined();
  });

  it("gives the core the business's agent file, mounted read-only from the agent-file secret at AGENT_FILE", () => {
    const agentFile = env.get("AGENT_FILE")?.value ?? "";
    const mount = container.volumeMounts?.find((m) => agentFile.startsWith(`${m.mountPath}/`));
    expect(mount?.readOnly).toBe(true);
    const volume = revision.spec.volumes?.find((v) => v.name === mount?.name);
    expect(volume?.secret).toEqual({ secretName: "agent-file", items: [{ key: "latest", path: path.posix.relative(mount!.mountPath, agentFile) }] });
    // With the file in place the core's config accepts it: tools need the signing secret, which the revision has.
    expect(coreConfig().agent?.tools.length ?? 0).toBeGreaterThan(0);
  });

  it("sets the turn-taking, voice and model settings, in values the core's own config accepts", () => {
    for (const name of ["LANGUAGE", "TTS_VOICE", "STT_PARTIAL_DEBOUNCE_MS", "STT_TIMEOUT_MS", "VAD_HANGOVER_MS", "MIN_UTT_SEC", "TTS_PREWARM", "GREETING_TEXT", "STT_MODEL", "LLM_MODEL"]) {
      expect(env.get(name)?.value, name).toEqual(expect.any(String));
    }
    // Cloud Run sets PORT itself and refuses a revision that sets it; the service account is the Google credential.
    expect(env.has("PORT")).toBe(false);
    expect(env.has("GOOGLE_APPLICATION_CREDENTIALS")).toBe(false);
    expect(env.has("SPEECH_ENDPOINT") || env.has("TTS_ENDPOINT") || env.has("OPENAI_BASE_URL")).toBe(false);
    const config = coreConfig();
    expect(config).toMatchObject({ LANGUAGE: "he-IL", TTS_PREWARM: true, STT_PARTIAL_DEBOUNCE_MS: 60, STT_TIMEOUT_MS: 240, VAD_HANGOVER_MS: 160, MIN_UTT_SEC: 0.25 });
  });

  it("speaks the greeting in the language and voice of every edge environment", async () => {
    const wrangler = parseToml(await readFile(path.join(REPO_ROOT, "wrangler.toml"), "utf8")) as {
      vars: Record<string, string>;
      env: Record<string, { vars: Record<string, string> }>;
    };
    for (const vars of [wrangler.vars, ...Object.values(wrangler.env).map((e) => e.vars)]) {
      for (const name of ["GREETING_TEXT", "LANGUAGE", "TTS_VOICE"]) expect(env.get(name)?.value, name).toBe(vars[name]);
    }
  });

  it("names its project, so every line of a call links to the trace of the request that opened it", () => {
    expect(env.get("GOOGLE_CLOUD_PROJECT")?.value).toBe("p-test");
    expect(coreConfig().GOOGLE_CLOUD_PROJECT).toBe("p-test");
    // Cloud Run sets these itself, for Error Reporting's serviceContext; a revision must not.
    expect(env.has("K_SERVICE") || env.has("K_REVISION")).toBe(false);
  });

  it("gives all traffic to the new revision on every deploy, also after a rollback pinned an old one", () => {
    expect(service.spec.traffic).toEqual([{ latestRevision: true, percent: 100 }]);
  });
});

describe("renderServiceManifest", () => {
  it("refuses a missing, unknown or structure-changing value", () => {
    expect(() => renderServiceManifest(template, { IMAGE } as never)).toThrow(/not given \["PROJECT_ID"\]/);
    expect(() => renderServiceManifest("image: ${IMAGE}", { IMAGE, PROJECT_ID: "p" })).toThrow(/not in the file \["PROJECT_ID"\]/);
    expect(() => renderServiceManifest(template, { IMAGE: "x\n  evil: true", PROJECT_ID: "p" })).toThrow(/IMAGE has characters/);
  });
});
