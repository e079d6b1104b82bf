// The edge's tests run inside workerd (the Workers runtime), configured from the root wrangler.toml.
import { fileURLToPath } from "node:url";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// Keep wrangler/miniflare off the network: no cf-object download, no telemetry.
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false";
process.env.WRANGLER_SEND_METRICS ??= "false";

/** Secrets and per-test vars; wrangler.toml supplies everything else. */
const TEST_BINDINGS = {
  TWILIO_AUTH_TOKEN: "test-twilio-auth-token",
  CORE_SHARED_SECRET: "test-core-shared-secret",
  DEPLOY_TOKEN: "test-deploy-token",
  STREAM_TOKEN_SECRET: "test-stream-token-secret",
  // An https public URL, to see the wss:// stream URL Twilio gets in production.
  PUBLIC_URL: "https://edge.example.test",
  // Nothing listens on the discard port: the core counts as down, without leaving this machine.
  CORE_URL: "http://127.0.0.1:9",
  // The same for the business's call-record receiver: record-desk.test.ts stands in for it in this isolate.
  CALL_RECORD_URL: "http://127.0.0.1:9/call-records",
  CALL_RECORD_SECRET: "test-call-record-secret",
};

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: fileURLToPath(new URL("../wrangler.toml", import.meta.url)) },
      miniflare: { bindings: TEST_BINDINGS },
    }),
  ],
  test: {
    name: "edge",
    include: ["src/**/*.test.ts"],
  },
});
