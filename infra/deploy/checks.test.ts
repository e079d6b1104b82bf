// The readers of what gcloud, wrangler, the edge and the simulator print, on outputs shaped as those
// tools print them: each says go on (with the value to remember) or stop (with a reason a person can act on).
import { describe, expect, it } from "vitest";
import type { CallSummary } from "../sim/report.js";
import { checkWarmup, countLogEntries, missingEdgeSecrets, readyRevision, servingRevision, smokeCallProblems } from "./checks.js";

/** A Cloud Run v1 Service as `gcloud run services describe|list --format=json` prints it. */
function service(status: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: "serving.knative.dev/v1",
    kind: "Service",
    metadata: { name: "voice-core", namespace: "123456789012", generation: 8 },
    spec: { template: { spec: { containerConcurrency: 10 } }, traffic: [{ latestRevision: true, percent: 100 }] },
    status: { observedGeneration: 8, url: "https://voice-core-123456789012.us-east4.run.app", ...status },
  };
}

const READY = [
  { type: "Ready", status: "True", lastTransitionTime: "2026-11-21T10:00:00Z" },
  { type: "ConfigurationsReady", status: "True" },
  { type: "RoutesReady", status: "True" },
];

describe("servingRevision (gcloud run services list)", () => {
  it("is the revision with the most traffic", () => {
    const split = service({
      traffic: [
        { revisionName: "voice-core-00006-kid", percent: 10 },
        { revisionName: "voice-core-00005-mop", percent: 90 },
        { latestRevision: true, percent: 0, revisionName: "voice-core-00007-xuz" },
      ],
    });
    expect(servingRevision(JSON.stringify([split]))).toEqual({ ok: true, value: "voice-core-00005-mop" });
  });

  it("is empty on a first deploy (no service yet): nothing to roll back to", () => {
    expect(servingRevision("[]\n")).toEqual({ ok: true, value: "" });
  });

  it("stops on output it cannot read", () => {
    expect(servingRevision("ERROR: (gcloud.run.services.list) PERMISSION_DENIED")).toMatchObject({ ok: false, reason: expect.stringMatching(/not JSON/) });
    expect(servingRevision(JSON.stringify([service({ traffic: [] })]))).toMatchObject({ ok: false, reason: expect.stringMatching(/no revision serves traffic/) });
  });
});

describe("readyRevision (gcloud run services describe, after replace)", () => {
  it("is the new revision once it is ready and has all the traffic", () => {
    const ready = service({
      conditions: READY,
      latestCreatedRevisionName: "voice-core-00008-abc",
      latestReadyRevisionName: "voice-core-00008-abc",
      traffic: [{ latestRevision: true, percent: 100, revisionName: "voice-core-00008-abc" }],
    });
    expect(readyRevision(JSON.stringify(ready))).toEqual({ ok: true, value: "voice-core-00008-abc" });
  });

  it("stops when the new revision failed its startup probe, quoting Cloud Run", () => {
    const failed = service({
      conditions: [
        {
          type: "Ready",
          status: "False",
          reason: "HealthCheckContainerError",
          message: "Revision 'voice-core-00008-abc' is not ready and cannot serve traffic. The user-provided container failed the configured startup probe checks.",
        },
      ],
      latestCreatedRevisionName: "voice-core-00008-abc",
      latestReadyRevisionName: "voice-core-00007-xuz",
      traffic: [{ latestRevision: true, percent: 100, revisionName: "voice-core-00007-xuz" }],
    });
    expect(readyRevision(JSON.stringify(failed))).toEqual({
      ok: false,
      reason: expect.stringMatching(/not Ready \(False\): Revision 'voice-core-00008-abc' is not ready .* startup probe/),
    });
  });

  it("stops when the ready revision is not the one just created, or does not have all the traffic", () => {
    const stale = service({ conditions: READY, latestCreatedRevisionName: "voice-core-00008-abc", latestReadyRevisionName: "voice-core-00007-xuz", traffic: [] });
    expect(readyRevision(JSON.stringify(stale))).toMatchObject({ ok: false, reason: "the newest revision voice-core-00008-abc is not ready (latest ready: voice-core-00007-xuz)" });
    const pinned = service({
      conditions: READY,
      latestCreatedRevisionName: "voice-core-00008-abc",
      latestReadyRevisionName: "voice-core-00008-abc",
      traffic: [{ revisionName: "voice-core-00007-xuz", percent: 100 }],
    });
    expect(readyRevision(JSON.stringify(pinned))).toMatchObject({ ok: false, reason: "revision voice-core-00008-abc has 0% of the traffic, not 100%" });
  });
});

describe("missingEdgeSecrets (wrangler secret list --format json)", () => {
  it("passes when all four are set, and names the missing ones otherwise", () => {
    const all = [
      { name: "CORE_SHARED_SECRET", type: "secret_text" },
      { name: "DEPLOY_TOKEN", type: "secret_text" },
      { name: "TWILIO_AUTH_TOKEN", type: "secret_text" },
      { name: "STREAM_TOKEN_SECRET", type: "secret_text" },
    ];
    expect(missingEdgeSecrets(JSON.stringify(all, null, "  "))).toEqual({ ok: true });
    expect(missingEdgeSecrets(JSON.stringify(all.slice(0, 1)))).toEqual({
      ok: false,
      reason: "edge secrets not set: TWILIO_AUTH_TOKEN, DEPLOY_TOKEN, STREAM_TOKEN_SECRET (npx wrangler secret put NAME --env ENV)",
    });
  });
});

describe("checkWarmup (the edge's /health/warmup)", () => {
  const bounds = { maxTtsWarmupMs: 1000, maxCoreWarmupMs: 5000 };
  const healthy = {
    ok: true,
    greeting_key: "phrase:9f2c",
    greeting_cached: false,
    greeting_bytes: 22400,
    greeting_ms: 412,
    hold_key: "phrase:51ab",
    hold_cached: true,
    hold_ms: 3,
    tts_warmup_ms: 4,
    core_warmup_ms: 96,
    core_ok: true,
    core_status: 200,
    core: { ok: true, tts_warmup_ms: 4, stt_warmup_ms: 31 },
  };

  it("passes a healthy warmup (a phrase just put in KV counts)", () => {
    expect(checkWarmup(JSON.stringify(healthy), bounds)).toEqual({ ok: true });
  });

  it("names every problem: not ok with the failing step, a phrase missing, a slow TTS warmup", () => {
    const bad = { ...healthy, ok: false, core_ok: false, core_warmup_error: "core answered 401", hold_key: undefined, tts_warmup_ms: 1800 };
    expect(checkWarmup(JSON.stringify(bad), bounds)).toEqual({
      ok: false,
      reason: "warmup: ok is false (core_warmup_error: core answered 401); hold_key/hold_cached missing; tts_warmup_ms 1800 > 1000",
    });
  });

  it("treats an unreachable core's null timing as missing", () => {
    const unreachable = { ...healthy, ok: false, tts_warmup_ms: null, core_warmup_ms: 30012 };
    expect(checkWarmup(JSON.stringify(unreachable), bounds)).toMatchObject({ ok: false, reason: expect.stringMatching(/tts_warmup_ms missing \(null\); core_warmup_ms 30012 > 5000/) });
  });

  it("stops on a body that is not the warmup report", () => {
    expect(checkWarmup("<html>502 Bad Gateway</html>", bounds)).toMatchObject({ ok: false, reason: expect.stringMatching(/not JSON/) });
  });
});

describe("smokeCallProblems (npm run call -- --json)", () => {
  const summary: CallSummary = { call_sid: "CA5e1f", turns: [], greeting_ms: 180, clears_audio_ms: [], errors: [] };

  it("passes a call without errors, reading the last line", () => {
    expect(smokeCallProblems(`some progress\n${JSON.stringify(summary)}\n`)).toEqual({ ok: true });
  });

  it("fails with the call's own errors", () => {
    const failed = { ...summary, errors: ["no greeting within 8000 ms", "webhook answered 403"] };
    expect(smokeCallProblems(JSON.stringify(failed))).toEqual({ ok: false, reason: "call CA5e1f failed: no greeting within 8000 ms; webhook answered 403" });
  });

  it("fails on no report at all", () => {
    expect(smokeCallProblems("")).toMatchObject({ ok: false, reason: "the smoke call's report is not JSON: (empty)" });
  });
});

describe("countLogEntries (gcloud logging read --format=json)", () => {
  const entry = { jsonPayload: { message: "TURN", call_id: "CA1", TOTAL_LATENCY_MS: 980 }, severity: "INFO", timestamp: "2026-11-21T10:01:00Z" };

  it("counts the entries against the expected number", () => {
    expect(countLogEntries(JSON.stringify(Array(6).fill(entry)), 6)).toEqual({ ok: true, value: "6" });
    expect(countLogEntries(JSON.stringify([entry]), 6)).toEqual({ ok: false, reason: "1 of 6 TURN lines exported so far" });
  });

  it("reads an empty answer as no entries yet", () => {
    expect(countLogEntries("", 6)).toEqual({ ok: false, reason: "0 of 6 TURN lines exported so far" });
    expect(countLogEntries("[]\n", 6)).toEqual({ ok: false, reason: "0 of 6 TURN lines exported so far" });
  });
});
