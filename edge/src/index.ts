// The edge worker: Twilio's webhook and media stream, and the health routes.
// Protocol modules are imported by path ("@voice/protocol/twilio", ...), not from the package index:
// the index also carries the audio codecs (mu-law tables, WAV), which the edge never needs.
import { CORE_RECORD_PATH } from "@voice/protocol/call-record";
// hono/tiny: one small router, enough for a handful of fixed paths (the default pair adds ~6 KB).
import { Hono } from "hono/tiny";
import { handleDialEnded, handleStreamEnded, handleWhisper } from "./call-control-routes.js";
import type { AppEnv } from "./env.js";
import { handleHealth, handleWarmup } from "./health.js";
import { errorText, logEvent } from "./log.js";
import { handleMediaUpgrade } from "./media.js";
import { handleCoreRecordPart } from "./record-route.js";
import { DIAL_ENDED_PATH, MEDIA_PATH, STREAM_ENDED_PATH, VOICE_PATH, WHISPER_PATH } from "./signature.js";
import { handleVoiceWebhook } from "./twilio-webhook.js";

const app = new Hono<AppEnv>();

app.post(VOICE_PATH, handleVoiceWebhook);
app.get(MEDIA_PATH, handleMediaUpgrade);
app.post(STREAM_ENDED_PATH, handleStreamEnded);
app.post(DIAL_ENDED_PATH, handleDialEnded);
app.post(WHISPER_PATH, handleWhisper);
app.post(CORE_RECORD_PATH, handleCoreRecordPart);
app.get("/health", handleHealth);
app.get("/health/warmup", handleWarmup);

app.onError((error, c) => {
  logEvent("ERROR", "unhandled error", { path: c.req.path, error: errorText(error) });
  return c.json({ ok: false, error: "internal error" }, 500);
});

export default app;
// The per-call ledger (one stream per call, the call's course), a Durable Object class the runtime finds by this export.
export { CallLedger } from "./call-ledger.js";
// The per-call record desk (one record per call, delivered once).
export { CallRecordDesk } from "./record-desk.js";
