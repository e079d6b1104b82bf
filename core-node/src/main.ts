// The core process: validate config, build the app once, warm it, listen; on SIGTERM/SIGINT drain
// (stop accepting, move every call to another core through the edge) and exit.
import { buildApp } from "./app.js";
import { ConfigError, configSecrets, loadConfig, resolveGoogleCredentials } from "./config.js";
import { createLogger } from "./metrics/log.js";
import { startServer } from "./server.js";

async function main(): Promise<void> {
  const startedAt = performance.now();
  let credentialsPath: string | undefined;
  let config;
  try {
    credentialsPath = resolveGoogleCredentials(process.env);
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // No logger yet: one structured line, written synchronously since the process exits next.
    process.stderr.write(`${JSON.stringify({ severity: "CRITICAL", message: error.message, timestamp: new Date().toISOString() })}\n`);
    process.exit(1);
  }
  const service = config.K_SERVICE ? { service: config.K_SERVICE, version: config.K_REVISION } : undefined;
  const log = createLogger({ level: config.LOG_LEVEL, debug: config.DEBUG, secrets: configSecrets(config), transcripts: config.LOG_TRANSCRIPTS, service });
  const app = await buildApp(config, log);
  const warmup = config.TTS_PREWARM ? await app.warmup() : undefined;
  const server = await startServer(app, { port: config.PORT, host: config.HOST });
  log.info(
    {
      host: config.HOST,
      port: server.port,
      language: config.LANGUAGE,
      tts_voice: config.TTS_VOICE,
      stt_model: config.STT_MODEL,
      llm_model: config.LLM_MODEL,
      speech_endpoint: config.SPEECH_ENDPOINT ? `${config.SPEECH_ENDPOINT.host}:${config.SPEECH_ENDPOINT.port}` : "google",
      tts_endpoint: config.TTS_ENDPOINT ? `${config.TTS_ENDPOINT.host}:${config.TTS_ENDPOINT.port}` : "google",
      openai_base_url: config.OPENAI_BASE_URL ? withoutCredentials(config.OPENAI_BASE_URL) : "openai",
      google_credentials_path: credentialsPath,
      agent_prompt_file: config.AGENT_PROMPT_FILE?.path,
      agent_file: config.AGENT_FILE,
      tools: config.agent?.tools.map((tool) => tool.name),
      system_prompt_chars: config.systemPrompt.length,
      warmup,
      status: app.health().status,
      startup_ms: Math.round(performance.now() - startedAt),
      node: process.version,
    },
    "APP_START",
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, active_calls: server.activeCalls(), calls_refused: server.callsRefused() }, "APP_STOP");
    await server.close();
    await app.close();
    log.flush(() => process.exit(0));
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

/** A URL as safe to log: no user, password or query (a proxy's key may ride in any of them). */
function withoutCredentials(text: string): string {
  const url = new URL(text);
  return `${url.protocol}//${url.host}${url.pathname}`;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${JSON.stringify({ severity: "CRITICAL", message: `core failed to start: ${error instanceof Error ? error.stack : String(error)}`, timestamp: new Date().toISOString() })}\n`,
  );
  process.exit(1);
});
