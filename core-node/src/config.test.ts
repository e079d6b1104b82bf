import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  DEFAULT_BACKCHANNEL_WORDS,
  DEFAULT_CALL_LIMIT_TEXT,
  DEFAULT_FIXED_PHRASES,
  DEFAULT_GREETING_TEXT,
  DEFAULT_SYSTEM_PROMPT,
  SETTING_NAMES,
  loadConfig,
  resolveGoogleCredentials,
} from "./config.js";

const required = { OPENAI_API_KEY: "sk-test", CORE_SHARED_SECRET: "0123456789abcdef" };

describe("loadConfig", () => {
  it("fills in the documented defaults", () => {
    expect(loadConfig(required)).toEqual({
      ...required,
      PORT: 8080,
      HOST: "0.0.0.0",
      LANGUAGE: "he-IL",
      TTS_VOICE: "he-IL-Wavenet-A",
      STT_MODEL: "default",
      LLM_MODEL: "gpt-4o-mini",
      TTS_PREWARM: true,
      TTS_CACHE_MAX_BYTES: 32 * 1024 * 1024,
      TTS_TIMEOUT_MS: 3000,
      LLM_FIRST_TOKEN_TIMEOUT_MS: 3000,
      LLM_SPECULATE: true,
      SPECULATE_STABLE_MS: 300,
      SPECULATE_STABLE_VOICED_MS: 600,
      SPECULATE_MAX_PER_UTTERANCE: 3,
      STT_PARTIAL_DEBOUNCE_MS: 60,
      STT_TIMEOUT_MS: 240,
      STT_STREAM_MAX_MS: 290_000,
      STT_STREAM_ROTATE_MS: 270_000,
      STT_FALLBACK_MODEL: "whisper-1",
      STT_FALLBACK_TIMEOUT_MS: 6000,
      VAD_HANGOVER_MS: 160,
      VAD_MODE: 2,
      MIN_UTT_SEC: 0.25,
      BARGE_IN_MIN_MS: 200,
      BACKCHANNEL_MAX_MS: 600,
      BACKCHANNEL_WORDS: DEFAULT_BACKCHANNEL_WORDS,
      HISTORY_MAX_TOKENS: 3000,
      DTMF_TIMEOUT_MS: 1500,
      GREETING_TEXT: DEFAULT_GREETING_TEXT,
      CALL_LIMIT_TEXT: DEFAULT_CALL_LIMIT_TEXT,
      MAX_CALLS: 100,
      MAX_FRAME_BYTES: 64 * 1024,
      MAX_FRAMES_PER_SECOND: 200,
      MAX_AUDIO_BACKLOG_MS: 20_000,
      FLOOD_CLOSE_AFTER_S: 5,
      MAX_CALL_MS: 3_600_000,
      LLM_MAX_REQUESTS_PER_CALL: 600,
      TTS_MAX_CHARS_PER_CALL: 60_000,
      PHRASE_MAX_UNCACHED_PER_MIN: 10,
      SYSTEM_PROMPT: expect.stringContaining("language the caller speaks"),
      systemPrompt: DEFAULT_SYSTEM_PROMPT,
      FIXED_PHRASES: DEFAULT_FIXED_PHRASES,
      DEBUG: false,
      LOG_LEVEL: "info",
    });
  });

  it("names every bad key in one error", () => {
    const attempt = () =>
      loadConfig({ PORT: "eighty", VAD_MODE: "7", TTS_PREWARM: "maybe", SPEECH_ENDPOINT: "localhost", OPENAI_BASE_URL: "not a url" });
    expect(attempt).toThrow(ConfigError);
    const message = (() => {
      try {
        attempt();
      } catch (error) {
        return (error as Error).message;
      }
    })();
    for (const key of ["PORT", "VAD_MODE", "TTS_PREWARM", "SPEECH_ENDPOINT", "OPENAI_BASE_URL", "CORE_SHARED_SECRET"]) {
      expect(message).toContain(`${key}:`);
    }
  });

  it("reads emulator endpoints, flags and numbers from their string forms; empty means unset", () => {
    const config = loadConfig({
      ...required,
      SPEECH_ENDPOINT: "127.0.0.1:50051",
      TTS_ENDPOINT: "tts.local:7000",
      OPENAI_BASE_URL: "http://127.0.0.1:4010/v1",
      TTS_PREWARM: "false",
      DEBUG: "1",
      MIN_UTT_SEC: "0.4",
      LANGUAGE: "",
    });
    expect(config.SPEECH_ENDPOINT).toEqual({ host: "127.0.0.1", port: 50051 });
    expect(config.TTS_ENDPOINT).toEqual({ host: "tts.local", port: 7000 });
    expect(config.TTS_PREWARM).toBe(false);
    expect(config.DEBUG).toBe(true);
    expect(config.MIN_UTT_SEC).toBe(0.4);
    expect(config.LANGUAGE).toBe("he-IL");
  });

  it("merges FIXED_PHRASES over the defaults and rejects what is not a JSON object of strings", () => {
    const config = loadConfig({ ...required, FIXED_PHRASES: JSON.stringify({ answer_error: "Sorry, once more?", hold: "One moment." }) });
    expect(config.FIXED_PHRASES).toEqual({ ...DEFAULT_FIXED_PHRASES, answer_error: "Sorry, once more?", hold: "One moment." });
    expect(() => loadConfig({ ...required, FIXED_PHRASES: "[oops" })).toThrow(/FIXED_PHRASES/);
    expect(() => loadConfig({ ...required, FIXED_PHRASES: '{"a": 1}' })).toThrow(/FIXED_PHRASES/);
  });

  it("starts without OPENAI_API_KEY (warmup reports it) and wants STT_STREAM_ROTATE_MS within STT_STREAM_MAX_MS", () => {
    expect(loadConfig({ CORE_SHARED_SECRET: required.CORE_SHARED_SECRET }).OPENAI_API_KEY).toBeUndefined();
    const short = loadConfig({ ...required, STT_STREAM_MAX_MS: "10000", STT_STREAM_ROTATE_MS: "8000" });
    expect([short.STT_STREAM_ROTATE_MS, short.STT_STREAM_MAX_MS]).toEqual([8000, 10_000]);
    expect(() => loadConfig({ ...required, STT_STREAM_MAX_MS: "10000", STT_STREAM_ROTATE_MS: "12000" })).toThrow(
      /STT_STREAM_ROTATE_MS: must not exceed STT_STREAM_MAX_MS/,
    );
  });

  it("listens on every interface unless HOST names one address (loopback locally), and refuses a host name", () => {
    expect(loadConfig({ ...required, HOST: "127.0.0.1" }).HOST).toBe("127.0.0.1");
    expect(loadConfig({ ...required, HOST: "::1" }).HOST).toBe("::1");
    // A shell's HOST is often the machine's name: refused at start, not bound to whatever it resolves to.
    expect(() => loadConfig({ ...required, HOST: "my-laptop" })).toThrow(/HOST:/);
  });

  it("takes a previous shared secret during a rotation, held to the same length rule", () => {
    expect(loadConfig({ ...required, CORE_SHARED_SECRET_PREVIOUS: "fedcba9876543210" }).CORE_SHARED_SECRET_PREVIOUS).toBe("fedcba9876543210");
    expect(loadConfig(required).CORE_SHARED_SECRET_PREVIOUS).toBeUndefined();
    expect(() => loadConfig({ ...required, CORE_SHARED_SECRET_PREVIOUS: "short" })).toThrow(/CORE_SHARED_SECRET_PREVIOUS:/);
  });

  it("explains keypad input to the model in the default prompt", () => {
    expect(DEFAULT_SYSTEM_PROMPT).toContain('"[keypad] 1 2 3 #"');
  });

  it("takes backchannel words per language, replacing that language's defaults only", () => {
    const config = loadConfig({ ...required, BACKCHANNEL_WORDS: JSON.stringify({ EN: ["sure", "I see"], fr: ["oui"] }) });
    expect(config.BACKCHANNEL_WORDS).toEqual({ he: DEFAULT_BACKCHANNEL_WORDS.he, en: ["sure", "I see"], fr: ["oui"] });
    expect(() => loadConfig({ ...required, BACKCHANNEL_WORDS: '{"he": "כן"}' })).toThrow(/BACKCHANNEL_WORDS/);
    expect(() => loadConfig({ ...required, BACKCHANNEL_WORDS: "כן" })).toThrow(/BACKCHANNEL_WORDS/);
  });

  it("reads the agent's prompt from AGENT_PROMPT_FILE once, in place of SYSTEM_PROMPT", () => {
    const path = join(mkdtempSync(join(tmpdir(), "prompt-")), "agent.md");
    writeFileSync(path, "# מרפאת שיניים\nשעות: א-ה 8-18.\n");
    const config = loadConfig({ ...required, AGENT_PROMPT_FILE: path, SYSTEM_PROMPT: "ignored" });
    expect(config.systemPrompt).toBe("# מרפאת שיניים\nשעות: א-ה 8-18.");
    expect(config.AGENT_PROMPT_FILE).toEqual({ path, text: config.systemPrompt });
  });

  it("names AGENT_PROMPT_FILE when the file is missing or empty, along with any other bad key", () => {
    const missing = join(tmpdir(), "no-such-dir-for-prompt", "agent.md");
    expect(() => loadConfig({ ...required, AGENT_PROMPT_FILE: missing })).toThrow(/AGENT_PROMPT_FILE: cannot read .*ENOENT/);
    const empty = join(mkdtempSync(join(tmpdir(), "prompt-")), "empty.md");
    writeFileSync(empty, "  \n");
    expect(() => loadConfig({ ...required, AGENT_PROMPT_FILE: empty })).toThrow(/AGENT_PROMPT_FILE: .* is empty/);
    expect(() => loadConfig({ ...required, AGENT_PROMPT_FILE: missing, PORT: "x" })).toThrow(/PORT: .*AGENT_PROMPT_FILE|AGENT_PROMPT_FILE: .*PORT/);
  });
});

describe("limits", () => {
  it("reads the limits and refuses values that would break a normal call", () => {
    const config = loadConfig({ ...required, MAX_CALLS: "12", MAX_FRAME_BYTES: "8192", MAX_CALL_MS: "60000", CALL_LIMIT_TEXT: "Time is up. Goodbye." });
    expect(config).toMatchObject({ MAX_CALLS: 12, MAX_FRAME_BYTES: 8192, MAX_CALL_MS: 60_000, CALL_LIMIT_TEXT: "Time is up. Goodbye." });
    // Twilio sends 50 media frames a second: a lower limit would drop the caller's audio.
    expect(() => loadConfig({ ...required, MAX_FRAMES_PER_SECOND: "40" })).toThrow(/MAX_FRAMES_PER_SECOND:/);
    expect(() => loadConfig({ ...required, MAX_FRAME_BYTES: "100" })).toThrow(/MAX_FRAME_BYTES:/);
    for (const name of ["MAX_CALLS", "FLOOD_CLOSE_AFTER_S", "LLM_MAX_REQUESTS_PER_CALL", "TTS_MAX_CHARS_PER_CALL"]) {
      expect(() => loadConfig({ ...required, [name]: "0" }), name).toThrow(new RegExp(`${name}:`));
    }
    expect(loadConfig({ ...required, PHRASE_MAX_UNCACHED_PER_MIN: "0" }).PHRASE_MAX_UNCACHED_PER_MIN).toBe(0);
  });
});

describe("loadConfig on arbitrary values", () => {
  /** What an environment variable may hold: anything, and the near misses of what the core expects. */
  const anyValue = fc.oneof(
    fc.string({ unit: "binary", maxLength: 80 }),
    fc.string({ maxLength: 20 }),
    fc.integer().map(String),
    fc.double().map(String),
    fc.json({ maxDepth: 2 }),
    fc.constantFrom("true", "false", "yes", "0", "1", "-1", "1e309", "0x10", "NaN", "Infinity", " 8080 ", "{}", "[]", "null", "{\"he\": [\"\"]}", "host:99999", "http://", "."),
  );

  it("returns a config or a ConfigError naming the variable, for any value of any setting", () => {
    expect(SETTING_NAMES).toContain("MAX_CALLS");
    fc.assert(
      fc.property(fc.constantFrom(...SETTING_NAMES), anyValue, (name, value) => {
        let outcome: unknown;
        try {
          outcome = loadConfig({ ...required, [name]: value });
        } catch (error) {
          outcome = error;
        }
        if (outcome instanceof Error) {
          expect(outcome).toBeInstanceOf(ConfigError);
          expect(outcome.message).toContain(name);
        } else {
          expect(outcome).toHaveProperty("CORE_SHARED_SECRET");
        }
      }),
      { seed: 8008, numRuns: 1500 },
    );
  });

  it("never throws anything but a ConfigError, whatever the whole environment holds", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...SETTING_NAMES), anyValue, { maxKeys: 8 }), (env) => {
        try {
          loadConfig(env);
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
        }
      }),
      { seed: 8009, numRuns: 500 },
    );
  });
});

describe("resolveGoogleCredentials", () => {
  it("leaves a path alone and reports it", () => {
    const env = { GOOGLE_APPLICATION_CREDENTIALS: "/secrets/key.json" };
    expect(resolveGoogleCredentials(env)).toBe("/secrets/key.json");
    expect(env.GOOGLE_APPLICATION_CREDENTIALS).toBe("/secrets/key.json");
    expect(resolveGoogleCredentials({})).toBeUndefined();
  });

  it("writes inline JSON to a private file and points the variable at it", () => {
    const json = JSON.stringify({ type: "service_account", project_id: "p", private_key: "k" });
    const env: Record<string, string | undefined> = { GOOGLE_APPLICATION_CREDENTIALS: json };
    const path = resolveGoogleCredentials(env)!;
    expect(env.GOOGLE_APPLICATION_CREDENTIALS).toBe(path);
    expect(readFileSync(path, "utf8")).toBe(json);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("writes inline content that is not valid JSON to the private file too, for warmup to report (never a crash)", () => {
    const env: Record<string, string | undefined> = { GOOGLE_APPLICATION_CREDENTIALS: "{not json" };
    const path = resolveGoogleCredentials(env)!;
    expect(env.GOOGLE_APPLICATION_CREDENTIALS).toBe(path);
    expect(readFileSync(path, "utf8")).toBe("{not json");
  });

});
