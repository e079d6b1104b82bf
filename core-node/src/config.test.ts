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
  configSecrets,
  loadConfig,
  resolveGoogleCredentials,
} from "./config.js";
import { secretRedactor } from "./metrics/redact.js";
import { DEFAULT_HOLD_WORDS } from "./eou/unfinished.js";

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
      EOU_HOLD_MAX_MS: 1200,
      EOU_HOLD_WORDS: DEFAULT_HOLD_WORDS,
      CUTOFF_RECOVERY_MS: 1500,
      HISTORY_MAX_TOKENS: 3000,
      RECORD_SUMMARY_TIMEOUT_MS: 15_000,
      DTMF_TIMEOUT_MS: 1500,
      IDLE_REPROMPT_MS: 8000,
      IDLE_MAX_REPROMPTS: 2,
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
      TOOL_FILLER_MS: 700,
      TOOL_MAX_ROUNDS: 3,
      systemPrompt: DEFAULT_SYSTEM_PROMPT,
      FIXED_PHRASES: DEFAULT_FIXED_PHRASES,
      DEBUG: false,
      LOG_LEVEL: "info",
      LOG_TRANSCRIPTS: "redacted",
    });
  });

  it("takes LOG_TRANSCRIPTS off, redacted or full, and refuses anything else naming the setting", () => {
    for (const mode of ["off", "redacted", "full"]) expect(loadConfig({ ...required, LOG_TRANSCRIPTS: mode }).LOG_TRANSCRIPTS).toBe(mode);
    expect(() => loadConfig({ ...required, LOG_TRANSCRIPTS: "none" })).toThrow("LOG_TRANSCRIPTS: expected one of off, redacted, full");
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

  it("takes the end-of-utterance hold words per language, a language given replacing its default; a bad shape names the setting", () => {
    const config = loadConfig({ ...required, EOU_HOLD_WORDS: JSON.stringify({ FR: { unfinished: ["et", "de"], fillers: ["euh"] } }) });
    expect(config.EOU_HOLD_WORDS.fr).toEqual({ unfinished: ["et", "de"], prefixes: [], fillers: ["euh"], numberPrompts: [], numbers: [] });
    expect(config.EOU_HOLD_WORDS.he).toEqual(DEFAULT_HOLD_WORDS.he);
    expect(() => loadConfig({ ...required, EOU_HOLD_WORDS: '{"en": ["and"]}' })).toThrow(/EOU_HOLD_WORDS/);
    expect(() => loadConfig({ ...required, EOU_HOLD_WORDS: '{"en": {"unfinshed": ["and"]}}' })).toThrow(/EOU_HOLD_WORDS/);
    expect(() => loadConfig({ ...required, EOU_HOLD_MAX_MS: "-1" })).toThrow(/EOU_HOLD_MAX_MS/);
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

describe("the agent file (AGENT_FILE) and tools", () => {
  const dir = mkdtempSync(join(tmpdir(), "agent-config-"));
  const tool = {
    name: "find_slots",
    description: "Free appointment slots on a day",
    parameters: { type: "object", properties: { date: { type: "string" } }, required: [] },
    endpoint: "http://127.0.0.1:8091/tools/find_slots",
    sideEffects: false,
    timeoutMs: 3000,
  };
  const agent = { prompt: "You are the receptionist of a dental clinic.\n", facts: "  Open Sunday to Thursday, 8-18.  ", tools: [tool] };
  const write = (name: string, content: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(content));
    return path;
  };
  const withTools = write("agent.json", agent);
  const SIGNING = "tool-signing-secret-0123";
  const messageOf = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).not.toContain("\n");
      return (error as Error).message;
    }
    throw new Error("expected a ConfigError");
  };

  it("exposes the agent file, and its prompt and facts as the system prompt", () => {
    const config = loadConfig({ ...required, AGENT_FILE: withTools, TOOL_SIGNING_SECRET: SIGNING });
    expect(config.AGENT_FILE).toBe(withTools);
    expect(config.agent).toEqual(agent);
    expect(config.systemPrompt).toBe("You are the receptionist of a dental clinic.\n\nOpen Sunday to Thursday, 8-18.");
    expect(config.TOOL_SIGNING_SECRET).toBe(SIGNING);
    const noFacts = write("no-facts.json", { prompt: "Answer questions.", tools: [] });
    expect(loadConfig({ ...required, AGENT_FILE: noFacts }).systemPrompt).toBe("Answer questions.");
  });

  it("needs TOOL_SIGNING_SECRET (16+, not the core's secret) only when the file has tools", () => {
    expect(messageOf({ ...required, AGENT_FILE: withTools })).toBe(`invalid configuration: TOOL_SIGNING_SECRET: required (16+ characters) because ${withTools} has tools`);
    expect(messageOf({ ...required, AGENT_FILE: withTools, TOOL_SIGNING_SECRET: "short" })).toBe("invalid configuration: TOOL_SIGNING_SECRET: must be at least 16 characters");
    expect(messageOf({ ...required, AGENT_FILE: withTools, TOOL_SIGNING_SECRET: required.CORE_SHARED_SECRET })).toMatch(
      /^invalid configuration: TOOL_SIGNING_SECRET: must differ from CORE_SHARED_SECRET/,
    );
    const toolless = write("toolless.json", { prompt: "Answer questions." });
    expect(loadConfig({ ...required, AGENT_FILE: toolless }).agent).toEqual({ prompt: "Answer questions.", tools: [] });
  });

  it("refuses a bad agent file with the one line naming the field", () => {
    const bad = write("bad.json", { ...agent, tools: [tool, { ...tool, name: "book", endpoint: "http://booking.example.com/book" }] });
    expect(messageOf({ ...required, AGENT_FILE: bad, TOOL_SIGNING_SECRET: SIGNING })).toBe(
      `invalid configuration: AGENT_FILE ${bad}: tools[1].endpoint: must be https:// (http:// only to 127.0.0.1/localhost)`,
    );
    const missing = join(dir, "missing.json");
    expect(messageOf({ ...required, AGENT_FILE: missing })).toBe(`invalid configuration: AGENT_FILE ${missing}: (file): cannot read: ENOENT`);
  });

  it("takes the prompt from one place: AGENT_FILE with SYSTEM_PROMPT or AGENT_PROMPT_FILE is refused", () => {
    expect(messageOf({ ...required, AGENT_FILE: withTools, TOOL_SIGNING_SECRET: SIGNING, SYSTEM_PROMPT: "Be nice." })).toBe(
      "invalid configuration: AGENT_FILE: choose one: AGENT_FILE (prompt, facts and tools) or SYSTEM_PROMPT, not both",
    );
    const promptPath = join(dir, "prompt.md");
    writeFileSync(promptPath, "Be nice.");
    expect(messageOf({ ...required, AGENT_FILE: withTools, TOOL_SIGNING_SECRET: SIGNING, AGENT_PROMPT_FILE: promptPath })).toBe(
      "invalid configuration: AGENT_FILE: choose one: AGENT_FILE (prompt, facts and tools) or AGENT_PROMPT_FILE, not both",
    );
    expect(loadConfig({ ...required, SYSTEM_PROMPT: "Be nice." }).systemPrompt).toBe("Be nice.");
  });

  it("reads TOOL_FILLER_MS and TOOL_MAX_ROUNDS, and refuses what cannot work", () => {
    expect(loadConfig({ ...required, TOOL_FILLER_MS: "0", TOOL_MAX_ROUNDS: "5" })).toMatchObject({ TOOL_FILLER_MS: 0, TOOL_MAX_ROUNDS: 5 });
    expect(messageOf({ ...required, TOOL_FILLER_MS: "-1" })).toMatch(/^invalid configuration: TOOL_FILLER_MS: /);
    expect(messageOf({ ...required, TOOL_MAX_ROUNDS: "0" })).toMatch(/^invalid configuration: TOOL_MAX_ROUNDS: /);
  });

  it("has the tool phrases among the fixed phrases (so warmup caches them)", () => {
    expect(loadConfig(required).FIXED_PHRASES).toMatchObject({
      tool_wait: "רגע, אני בודקת ביומן.",
      tool_wait_more: "עוד רגע, אני עדיין בודקת.",
      tool_failed: "סליחה, לא הצלחתי לבדוק את זה כרגע.",
    });
  });

  it("keeps TOOL_SIGNING_SECRET out of every log line", () => {
    const config = loadConfig({ ...required, AGENT_FILE: withTools, TOOL_SIGNING_SECRET: SIGNING });
    expect(configSecrets(config)).toContain(SIGNING);
    const redact = secretRedactor(configSecrets(config));
    expect(redact(JSON.stringify({ message: "tool failed", error: `signed with ${SIGNING}` }))).toBe('{"message":"tool failed","error":"signed with [redacted]"}');
  });

  it("without an agent file, promises nothing the core cannot do", () => {
    expect(DEFAULT_SYSTEM_PROMPT).not.toMatch(/you can (book|move|cancel)/i);
    expect(DEFAULT_SYSTEM_PROMPT).not.toMatch(/offer to have the clinic call back/i);
    expect(DEFAULT_SYSTEM_PROMPT).toContain("You cannot book, move or cancel appointments over the phone yet");
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
