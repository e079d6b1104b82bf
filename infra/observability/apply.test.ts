import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadObservability } from "./config.js";
import { describePlan, planApply, renderPolicy } from "./plan.js";

const files = loadObservability();
const options = { project: "voice-agent-staging", channels: ["projects/voice-agent-staging/notificationChannels/42"], service: "voice-core", outDir: "/tmp/obs" };
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const APPLY = fileURLToPath(new URL("./apply.ts", import.meta.url));

describe("apply plan", () => {
  const plan = planApply(files, options);

  it("creates or updates every metric first, then the dashboard, then every alert policy", () => {
    expect(plan.map((s) => s.what)).toEqual([
      ...files.metrics.map((m) => `log metric ${m.value.name}`),
      "dashboard Voice agent (voice-agent)",
      ...files.policies.map((p) => `alert policy ${p.value.displayName}`),
    ]);
    const total = plan.find((s) => s.what === "log metric voice_turn_total_latency_ms")!;
    const file = path.join(REPO_ROOT, "infra/observability/metrics/voice_turn_total_latency_ms.yaml");
    expect(total.lookup).toEqual(["logging", "metrics", "describe", "voice_turn_total_latency_ms", "--project=voice-agent-staging", "--format=value(name)"]);
    expect(total.create.args).toEqual(["logging", "metrics", "create", "voice_turn_total_latency_ms", "--project=voice-agent-staging", `--config-from-file=${file}`]);
    expect(total.update("voice_turn_total_latency_ms").args).toEqual(["logging", "metrics", "update", "voice_turn_total_latency_ms", "--project=voice-agent-staging", `--config-from-file=${file}`]);
  });

  it("gives the dashboard a fixed id and the service, and updates it with the etag it found", () => {
    const step = plan.find((s) => s.what.startsWith("dashboard"))!;
    expect(step.lookup).toEqual(["monitoring", "dashboards", "describe", "projects/voice-agent-staging/dashboards/voice-agent", "--project=voice-agent-staging", "--format=value(etag)"]);
    const created = JSON.parse(step.create.write!.content) as Record<string, unknown>;
    expect(created).toMatchObject({ name: "projects/voice-agent-staging/dashboards/voice-agent", displayName: "Voice agent" });
    expect(created.etag).toBeUndefined();
    const update = step.update("3f2a9c");
    expect(update.args).toEqual(["monitoring", "dashboards", "update", "projects/voice-agent-staging/dashboards/voice-agent", "--project=voice-agent-staging", "--config-from-file=/tmp/obs/dashboard.update.json"]);
    expect(JSON.parse(update.write!.content)).toEqual({ ...created, etag: "3f2a9c" });
    const other = planApply(files, { ...options, service: "voice-core-canary" }).find((s) => s.what.startsWith("dashboard"))!;
    expect(JSON.parse(other.create.write!.content).dashboardFilters).toEqual([{ labelKey: "service_name", filterType: "RESOURCE_LABEL", stringValue: "voice-core-canary" }]);
  });

  it("finds a policy by its display name, updates the one found, and sends the operator's channels", () => {
    const step = plan.find((s) => s.what === "alert policy Voice: dropped calls")!;
    expect(step.lookup).toEqual(["monitoring", "policies", "list", "--project=voice-agent-staging", '--filter=displayName="Voice: dropped calls"', "--format=value(name)"]);
    expect(step.update("projects/voice-agent-staging/alertPolicies/123").args).toEqual([
      "monitoring",
      "policies",
      "update",
      "projects/voice-agent-staging/alertPolicies/123",
      "--project=voice-agent-staging",
      "--policy-from-file=/tmp/obs/policy-dropped-calls.json",
    ]);
    expect(JSON.parse(step.create.write!.content).notificationChannels).toEqual(options.channels);
    expect(renderPolicy(files.policies[0]!.value, []).notificationChannels).toEqual([]);
  });

  it("prints each look-up with both outcomes, quoted for a shell", () => {
    const text = describePlan(plan);
    expect(text).toContain(
      [
        "# alert policy Voice: dropped calls",
        `gcloud monitoring policies list --project=voice-agent-staging '--filter=displayName="Voice: dropped calls"' '--format=value(name)'`,
        "#   found  -> gcloud monitoring policies update '<found>' --project=voice-agent-staging --policy-from-file=/tmp/obs/policy-dropped-calls.json",
        "#   absent -> gcloud monitoring policies create --project=voice-agent-staging --policy-from-file=/tmp/obs/policy-dropped-calls.json",
      ].join("\n"),
    );
  });
});

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A stand-in `gcloud` on PATH (a shell script) that records its arguments, and finds every resource when `found` is set. */
function fakeGcloud(found: boolean): { dir: string; calls: () => string[][] } {
  const dir = mkdtempSync(path.join(tmpdir(), "fake-gcloud-"));
  scratch.push(dir);
  const log = path.join(dir, "calls.tsv");
  writeFileSync(log, "");
  const script = `#!/bin/sh
printf '%s\\t' "$@" >> '${log}'; printf '\\n' >> '${log}'
case "$3" in
  describe|list)
    if [ ${found ? 1 : 0} = 1 ]; then
      case "$2" in dashboards) echo etag-1 ;; policies) echo projects/p/alertPolicies/1 ;; *) echo "$4" ;; esac
    elif [ "$3" = describe ]; then exit 1; fi ;;
esac
`;
  writeFileSync(path.join(dir, "gcloud"), script);
  chmodSync(path.join(dir, "gcloud"), 0o755);
  const calls = () =>
    readFileSync(log, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => line.split("\t").slice(0, -1));
  return { dir, calls };
}

function runApply(args: string[], gcloudDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", APPLY, ...args], {
      cwd: REPO_ROOT,
      // The rendered files go to the fake's directory too, removed with it.
      env: { ...process.env, PATH: `${gcloudDir}${path.delimiter}${process.env.PATH}`, TMPDIR: gcloudDir },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("apply.ts", () => {
  const steps = files.metrics.length + 1 + files.policies.length;

  it("--dry-run runs no gcloud and prints every step", async () => {
    const gcloud = fakeGcloud(false);
    const { code, stdout } = await runApply(["--project", "p", "--dry-run"], gcloud.dir);
    expect(code).toBe(0);
    expect(gcloud.calls()).toEqual([]);
    expect(stdout.match(/^# (log metric|dashboard|alert policy) /gm)).toHaveLength(steps);
  });

  it("creates what is absent, and updates in place on a second run", async () => {
    const empty = fakeGcloud(false);
    expect((await runApply(["--project", "p", "--notification-channel", "projects/p/notificationChannels/7"], empty.dir)).code).toBe(0);
    const verbs = (calls: string[][]) => calls.filter((c) => c[2] !== "describe" && c[2] !== "list").map((c) => c[2]);
    expect(verbs(empty.calls())).toEqual(Array(steps).fill("create"));

    const full = fakeGcloud(true);
    expect((await runApply(["--project", "p"], full.dir)).code).toBe(0);
    expect(verbs(full.calls())).toEqual(Array(steps).fill("update"));
    const dashboardUpdate = full.calls().find((c) => c[1] === "dashboards" && c[2] === "update")!;
    const sent = JSON.parse(readFileSync(dashboardUpdate.at(-1)!.replace("--config-from-file=", ""), "utf8")) as { etag: string };
    expect(sent.etag).toBe("etag-1");
  });

  it("refuses to run without a project", async () => {
    const gcloud = fakeGcloud(false);
    const { code, stderr } = await runApply([], gcloud.dir);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^--project is required/);
  });
});
