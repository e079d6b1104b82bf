import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("GET /health", () => {
  it("tells anyone the status alone: degraded while the core cannot be reached", async () => {
    for (const authorization of [undefined, `Bearer ${env.DEPLOY_TOKEN}x`, `Basic ${env.DEPLOY_TOKEN}`]) {
      const response = await exports.default.fetch("http://edge.internal/health", { headers: authorization ? { authorization } : {} });
      expect(response.status, authorization).toBe(200);
      expect(await response.json(), authorization).toEqual({ status: "degraded" });
    }
  });

  it("reports the core probe's details to the deploy token", async () => {
    const response = await exports.default.fetch("http://edge.internal/health", { headers: { authorization: `Bearer ${env.DEPLOY_TOKEN}` } });
    expect(response.status).toBe(200);
    const body = await response.json<{ status: string; edge: string; core: { ok: boolean; ms: number; error?: string } }>();
    expect(body).toMatchObject({ status: "degraded", edge: "up", core: { ok: false } });
    expect(body.core.ms).toBeGreaterThanOrEqual(0);
    expect(body.core.error).toBeTruthy();
  });
});

describe("GET /health/warmup", () => {
  it("refuses a request without the deploy token", async () => {
    const response = await exports.default.fetch("http://edge.internal/health/warmup");
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ ok: false, error: "unauthorized" });
  });

  it("refuses a wrong deploy token", async () => {
    const response = await exports.default.fetch("http://edge.internal/health/warmup", {
      headers: { authorization: `Bearer ${env.DEPLOY_TOKEN}x` },
    });
    expect(response.status).toBe(401);
  });

  it("reports an unreachable core as fields of a 200 answer, not as a bare error", async () => {
    const response = await exports.default.fetch("http://edge.internal/health/warmup", {
      headers: { authorization: `Bearer ${env.DEPLOY_TOKEN}` },
    });
    expect(response.status).toBe(200);
    const body = await response.json<Record<string, unknown>>();
    expect(body).toMatchObject({ ok: false, greeting_cached: false, hold_cached: false, core_ok: false, tts_warmup_ms: null });
    expect(body.greeting_key).toMatch(/^phrase:[0-9a-f]{64}$/);
    expect(body.hold_key).toMatch(/^phrase:[0-9a-f]{64}$/);
    expect(body.hold_key).not.toBe(body.greeting_key);
    expect(body.greeting_error).toBeTruthy();
    expect(body.hold_error).toBeTruthy();
    expect(body.core_warmup_error).toBeTruthy();
    expect(body.core_warmup_ms).toEqual(expect.any(Number));
  });
});

describe("GET /twilio/media", () => {
  it("refuses an unsigned WebSocket upgrade with 403", async () => {
    const response = await exports.default.fetch("http://edge.internal/twilio/media", { headers: { upgrade: "websocket" } });
    expect(response.status).toBe(403);
    expect(response.webSocket).toBeNull();
  });
});
