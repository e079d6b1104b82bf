// wrangler.toml's deployed environments: wrangler does not carry [vars] or KV bindings into an
// [env.<name>], so each must repeat every var and binding the worker reads, with deployed values,
// and never a secret. Read both as TOML and through wrangler's own config reader (no network).
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseToml } from "smol-toml";
import { describe, expect, it } from "vitest";
import { EDGE_SECRETS } from "./checks.js";
import { placeholderProblems, readWranglerEnvironment } from "./wrangler-env.js";

// Wrangler's config reader stays offline anyway; this keeps its telemetry off too.
process.env.WRANGLER_SEND_METRICS ??= "false";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const WRANGLER_TOML = path.join(REPO_ROOT, "wrangler.toml");
const DEPLOYED = ["staging", "production"] as const;

interface WranglerSection {
  vars: Record<string, string>;
  kv_namespaces: Array<{ binding: string; id: string }>;
  durable_objects: { bindings: Array<{ name: string; class_name: string }> };
  routes?: Array<{ pattern: string; custom_domain?: boolean }>;
  workers_dev?: boolean;
}
const config = parseToml(await readFile(WRANGLER_TOML, "utf8")) as unknown as WranglerSection & { env: Record<string, WranglerSection> };

describe.each(DEPLOYED)("[env.%s]", (name) => {
  const section = config.env[name]!;

  it("has every var of the top level and no other", () => {
    expect(Object.keys(section.vars).sort()).toEqual(Object.keys(config.vars).sort());
  });

  it("holds no secret, by name or by value", () => {
    for (const secretName of EDGE_SECRETS) expect(section.vars).not.toHaveProperty(secretName);
    expect(Object.keys(section).filter((key) => /secret|token|password/i.test(key))).toEqual([]);
  });

  it("points at https URLs: its own public URL (what Twilio signs) and the core's", () => {
    expect(new URL(section.vars.PUBLIC_URL!).protocol).toBe("https:");
    expect(new URL(section.vars.CORE_URL!).protocol).toBe("https:");
  });

  it("binds the same KV namespaces and serves on its public URL's host", () => {
    expect(section.kv_namespaces.map((kv) => kv.binding)).toEqual(config.kv_namespaces.map((kv) => kv.binding));
    for (const kv of section.kv_namespaces) expect(kv.id).toMatch(/^[0-9a-f]{32}$/);
    expect(section.routes).toEqual([{ pattern: new URL(section.vars.PUBLIC_URL!).host, custom_domain: true }]);
    expect(section.workers_dev).toBe(false);
  });

  it("binds the per-call ledger (Durable Object bindings are not inherited either)", () => {
    expect(section.durable_objects.bindings).toEqual(config.durable_objects.bindings);
  });

  it("is read by wrangler itself with these vars, this KV binding and the top level's limits, minify and Workers Logs", async () => {
    const { unstable_readConfig } = await import("wrangler");
    const seen = unstable_readConfig({ config: WRANGLER_TOML, env: name }, { hideWarnings: true });
    expect(seen.name).toBe(`voice-edge-${name}`);
    expect(seen.vars).toEqual(section.vars);
    expect(seen.kv_namespaces).toEqual(section.kv_namespaces);
    expect(seen.durable_objects.bindings).toEqual(section.durable_objects.bindings);
    expect(seen.limits).toEqual({ cpu_ms: 300_000 });
    expect(seen.minify).toBe(true);
    expect(seen.observability).toEqual({ enabled: true });
  });
});

describe("the top level (local runs and tests)", () => {
  it("still points at 127.0.0.1", () => {
    expect(config.vars.CORE_URL).toBe("http://127.0.0.1:8080");
    expect(config.vars.PUBLIC_URL).toBe("http://127.0.0.1:8787");
  });
});

describe("placeholderProblems", () => {
  it("names each committed placeholder, and none once real values are in", async () => {
    const staging = await readWranglerEnvironment(WRANGLER_TOML, "staging");
    expect(placeholderProblems("staging", staging)).toEqual([
      "wrangler.toml [env.staging.vars] PUBLIC_URL is a placeholder (https://voice-staging.example.com)",
      "wrangler.toml [env.staging.vars] CORE_URL is a placeholder (https://voice-core-000000000000.us-east4.run.app)",
      "wrangler.toml [env.staging.vars] TWILIO_ACCOUNT_SID is a placeholder",
      "wrangler.toml [env.staging] KV namespace GREETINGS has the placeholder id",
    ]);
    const real = {
      vars: {
        PUBLIC_URL: "https://voice-staging.clinic.co.il",
        CORE_URL: "https://voice-core-123456789012.us-east4.run.app",
        TWILIO_ACCOUNT_SID: "AC5e1c0a3b7d9f2e4a6c8b0d1f3e5a7c9b",
      },
      kv_namespaces: [{ binding: "GREETINGS", id: "0f1e2d3c4b5a69788796a5b4c3d2e1f0" }],
    };
    expect(placeholderProblems("staging", real)).toEqual([]);
  });

  it("says which section is missing or malformed", async () => {
    await expect(readWranglerEnvironment(WRANGLER_TOML, "qa")).rejects.toThrow(/\[env\.qa\]/);
  });
});
