// The edge worker: Twilio's webhook and media stream, and the health routes.
// Protocol modules are imported by path ("@voice/protocol/twilio", ...), not from the package index:
// the index also carries the audio codecs (mu-law tables, WAV), which the edge never needs.
import { Hono } from "hono";
import type { AppEnv } from "./env.js";
import { handleHealth, handleWarmup } from "./health.js";
import { errorText, logEvent } from "./log.js";
import { handleMediaUpgrade } from "./media.js";
import { MEDIA_PATH, VOICE_PATH } from "./signature.js";
import { handleVoiceWebhook } from "./twilio-webhook.js";

const app = new Hono<AppEnv>();

app.post(VOICE_PATH, handleVoiceWebhook);
app.get(MEDIA_PATH, handleMediaUpgrade);
app.get("/health", handleHealth);
app.get("/health/warmup", handleWarmup);

app.onError((error, c) => {
  logEvent("ERROR", "unhandled error", { path: c.req.path, error: errorText(error) });
  return c.json({ ok: false, error: "internal error" }, 500);
});

export default app;
// The per-call ledger (one stream per call), a Durable Object class the runtime finds by this export.
export { CallLedger } from "./call-ledger.js";
