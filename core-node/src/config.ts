// The core's settings: one zod schema over the environment. Parsing fails with one message that
// names every bad key, so a misconfigured deploy dies at start, not on its first call.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_FLOOD_CLOSE_AFTER_S, DEFAULT_MAX_AUDIO_BACKLOG_MS, DEFAULT_MAX_FRAMES_PER_SECOND } from "@voice/protocol";
import { z } from "zod";
import { DEFAULT_HOLD_WORDS } from "./eou/unfinished.js";
import { LOG_TRANSCRIPTS_MODES } from "./metrics/redact-words.js";
import { loadAgentFile } from "./tools/agent-file.js";
import type { AgentFile } from "./tools/types.js";

export const DEFAULT_GREETING_TEXT = "שלום, הגעתם למרפאת השיניים. במה אפשר לעזור?";

/**
 * Spoken when the core ends a call itself (MAX_CALL_MS reached, a per-call budget spent), then the
 * call is closed. In the default language like the greeting: a deployment in another language sets
 * CALL_LIMIT_TEXT as it sets GREETING_TEXT.
 */
export const DEFAULT_CALL_LIMIT_TEXT = "השיחה מסתיימת כעת. תודה שהתקשרתם, להתראות.";

/**
 * The prompt without an agent file. It promises nothing the core cannot do: with no tools it cannot
 * book, move or cancel an appointment, take a message or arrange a call back, so it says so.
 */
export const DEFAULT_SYSTEM_PROMPT = [
  "You are the phone receptionist of a small dental clinic, speaking with a caller on the phone.",
  "Answer in the language the caller speaks.",
  "Your words are spoken aloud: keep answers to one to three short sentences, no lists, no markdown, no emoji.",
  "Opening hours: Sunday to Thursday 8:00-18:00, Friday 8:00-13:00.",
  "Answer questions about the clinic from these facts only.",
  "You cannot book, move or cancel appointments over the phone yet: if asked, say so plainly and briefly, and never say that it was done.",
  // The built-in tools (call/control-tools.ts); those not offered on a request cannot be used then.
  "When the caller is done (they say goodbye, or have nothing more), say a short goodbye and call end_call in the same answer.",
  "If you are offered transfer_to_staff and the caller asks for a person, or you cannot help, call it with a few words on what the caller needs; if the caller comes back because nobody answered, say so and offer to take a message.",
  "If you are offered take_message, you may take a message for the clinic's staff: ask what it is, then call take_message with the caller's own words (and their name and phone only if they gave them).",
  "If a tool is not offered, you cannot do what it does: say so plainly, and never say that a message was taken or that you are transferring the call.",
  "If you do not know something, say so briefly.",
  // DTMF reaches the model as a user message of this exact shape (see call/dtmf.ts).
  'When the caller presses phone keys you receive a message like "[keypad] 1 2 3 #": the keys pressed, in order, space-separated; "#" means the caller finished the entry with the pound key.',
].join(" ");

/**
 * Words and short phrases that, alone, are a listener's acknowledgement rather than a request to
 * stop ("backchannels"), per language prefix. While the agent speaks they neither interrupt it nor
 * make a turn. Matching ignores case and punctuation (see eou/backchannel.ts).
 */
export const DEFAULT_BACKCHANNEL_WORDS: Record<string, string[]> = {
  he: ["כן", "אהה", "אה", "נכון", "אוקיי", "ממ", "בסדר", "טוב"],
  en: ["yes", "yeah", "uh-huh", "mm", "mhm", "right", "okay", "ok"],
};

/** Short phrases the core may speak without asking the LLM; all are synthesized at warmup. */
export const DEFAULT_FIXED_PHRASES = {
  /** Interim phrase while speech recognition is failing. */
  stt_trouble: "יש תקלה רגעית בזיהוי, ננסה שוב…",
  /** Spoken when an answer could not be produced (the LLM failed twice, or a sentence could not be synthesized). */
  answer_error: "סליחה, משהו השתבש אצלי. אפשר לחזור על השאלה?",
  /** Spoken when neither the recognizer nor the fallback transcription understood the caller. */
  stt_failed: "סליחה, לא הצלחתי לשמוע. אפשר לומר את זה שוב?",
  /** Said while a tool call runs past TOOL_FILLER_MS, so the caller does not wait in silence. */
  tool_wait: "רגע, אני בודקת ביומן.",
  /** Said if the tool call is still running a while after tool_wait. */
  tool_wait_more: "עוד רגע, אני עדיין בודקת.",
  /** Said when a tool call failed and nothing else can be said about it. */
  tool_failed: "סליחה, לא הצלחתי לבדוק את זה כרגע.",
  /** Said before the call is put through to the staff (transfer_to_staff); the call is handed over once it played. */
  transfer_announce: "אני מעבירה אותך לצוות המרפאה, נא להישאר על הקו.",
  /** Said when the caller stayed silent IDLE_REPROMPT_MS after the agent's last words. */
  idle_reprompt: "אתם עדיין איתי?",
  /** The last words when the caller stayed silent through every reprompt, or the agent ended the call (end_call) without a farewell of its own. */
  goodbye: "תודה שהתקשרתם, להתראות.",
} as const;

export type FixedPhrases = typeof DEFAULT_FIXED_PHRASES & Record<string, string>;

const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9.\-]+:\d{1,5}$/, 'expected "host:port"')
  .transform((value) => {
    const at = value.lastIndexOf(":");
    return { host: value.slice(0, at), port: Number(value.slice(at + 1)) };
  });

const flag = z
  .enum(["true", "false", "1", "0", "yes", "no"], { message: "expected true or false" })
  .transform((value) => value === "true" || value === "1" || value === "yes");

/** A setting holding JSON: parsed, or one issue saying what was `expected`. */
const json = (expected: string) =>
  z.string().transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: `expected ${expected}` });
      return z.NEVER;
    }
  });

/** Per-language tables: a language given (any case) replaces that language's default; the other defaults stay. */
const byLanguage =
  <T>(defaults: Record<string, T>) =>
  (given: Record<string, T>): Record<string, T> => ({
    ...defaults,
    ...Object.fromEntries(Object.entries(given).map(([language, value]) => [language.toLowerCase(), value])),
  });

const fixedPhrases = json("a JSON object of name -> phrase")
  .pipe(z.record(z.string(), z.string().min(1)))
  // Given phrases override the defaults by name; the defaults the core relies on stay present.
  .transform((given): FixedPhrases => ({ ...DEFAULT_FIXED_PHRASES, ...given }));

const words = z.array(z.string().trim().min(1));

const backchannelWords = json("a JSON object of language prefix -> list of words")
  .pipe(z.record(z.string().min(1), words))
  .transform(byLanguage(DEFAULT_BACKCHANNEL_WORDS));

const holdWords = json("a JSON object of language prefix -> {unfinished, prefixes, fillers, numberPrompts, numbers}")
  .pipe(
    z.record(
      z.string().min(1),
      z.strictObject({
        unfinished: words.default([]),
        prefixes: words.default([]),
        fillers: words.default([]),
        numberPrompts: words.default([]),
        numbers: words.default([]),
      }),
    ),
  )
  .transform(byLanguage(DEFAULT_HOLD_WORDS));

/** The agent's instructions and business facts, read once at start (UTF-8 text or markdown). */
const promptFile = z
  .string()
  .min(1)
  .transform((path, ctx) => {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      ctx.addIssue({ code: "custom", message: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` });
      return z.NEVER;
    }
    if (text.trim() === "") {
      ctx.addIssue({ code: "custom", message: `${path} is empty` });
      return z.NEVER;
    }
    return { path, text: text.trim() };
  });

/** The agent file (prompt, facts, tools), read and validated once at start; a bad one is one line naming the field. */
const agentFile = z
  .string()
  .min(1)
  .transform((path, ctx): { path: string; agent: AgentFile } => {
    const loaded = loadAgentFile(path);
    if (loaded instanceof Error) {
      // The line names the setting itself ("AGENT_FILE <path>: <field>: <problem>"): not prefixed again.
      ctx.addIssue({ code: "custom", message: loaded.message, params: { named: true } });
      return z.NEVER;
    }
    return { path, agent: loaded };
  });

const secret = z.string().min(16, "must be at least 16 characters");

const settingsSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** Address to listen on: every interface on Cloud Run; loopback where the core runs beside its callers (npm start, tests). */
  HOST: z.union([z.ipv4(), z.ipv6(), z.literal("localhost")], { message: "expected an IP address or localhost" }).default("0.0.0.0"),
  LANGUAGE: z.string().min(2).default("he-IL"),
  TTS_VOICE: z.string().min(1).default("he-IL-Wavenet-A"),
  STT_MODEL: z.string().min(1).default("default"),
  LLM_MODEL: z.string().min(1).default("gpt-4o-mini"),
  /** No first token (or no next token) for this long is a failed LLM request: retried once, then the fallback phrase. */
  LLM_FIRST_TOKEN_TIMEOUT_MS: z.coerce.number().int().positive().default(3000),
  /** Start the answer on a stable partial transcript before the end of the utterance (see call/speculation.ts). */
  LLM_SPECULATE: flag.default(true),
  /** Caller audio the transcript must stay the same (normalised) once the caller pauses, before the speculative answer starts. */
  SPECULATE_STABLE_MS: z.coerce.number().int().min(0).default(300),
  /** The same while the caller's voice goes on: the recognizer may hold the whole sentence before its last word ends. */
  SPECULATE_STABLE_VOICED_MS: z.coerce.number().int().min(0).default(600),
  /** Speculative LLM requests per utterance at most (each wrong one is an LLM request paid for nothing). */
  SPECULATE_MAX_PER_UTTERANCE: z.coerce.number().int().min(1).default(3),
  /** Missing: the process still starts (health says degraded) and every LLM turn gets the fallback phrase. */
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: z.url().optional(),
  SPEECH_ENDPOINT: hostPort.optional(),
  TTS_ENDPOINT: hostPort.optional(),
  GOOGLE_APPLICATION_CREDENTIALS: z.string().min(1).optional(),
  TTS_PREWARM: flag.default(true),
  /** Bytes of synthesized audio the process keeps (mu-law: 8000 bytes per second). */
  TTS_CACHE_MAX_BYTES: z.coerce.number().int().positive().default(32 * 1024 * 1024),
  /** Deadline of one TTS request (the library's own default is minutes); a sentence gets two such attempts. */
  TTS_TIMEOUT_MS: z.coerce.number().int().positive().default(3000),
  STT_PARTIAL_DEBOUNCE_MS: z.coerce.number().int().min(0).default(60),
  STT_TIMEOUT_MS: z.coerce.number().int().min(0).default(240),
  /** A recognition stream is replaced at this age (audio time) whatever the caller is doing; Google ends streams at ~305 s. */
  STT_STREAM_MAX_MS: z.coerce.number().int().min(2000).default(290_000),
  /** Past this age a recognition stream is replaced at the first moment the caller is not speaking. */
  STT_STREAM_ROTATE_MS: z.coerce.number().int().min(1000).default(270_000),
  /** OpenAI transcription model for an utterance the recognizer could not handle (retries exhausted). */
  STT_FALLBACK_MODEL: z.string().min(1).default("whisper-1"),
  /** Deadline of that transcription; past it the caller hears FIXED_PHRASES.stt_failed. */
  STT_FALLBACK_TIMEOUT_MS: z.coerce.number().int().positive().default(6000),
  VAD_HANGOVER_MS: z.coerce.number().int().min(20).default(160),
  VAD_MODE: z.coerce.number().int().min(0).max(3).default(2),
  MIN_UTT_SEC: z.coerce.number().min(0).default(0.25),
  /** Voiced caller audio below which nothing interrupts the agent (a cough, a click). */
  BARGE_IN_MIN_MS: z.coerce.number().int().min(20).default(200),
  /** Voiced caller audio after which the agent is interrupted even if only backchannel words were heard. */
  BACKCHANNEL_MAX_MS: z.coerce.number().int().min(20).default(600),
  BACKCHANNEL_WORDS: backchannelWords.default({ ...DEFAULT_BACKCHANNEL_WORDS }),
  /** The most silence the end of utterance waits while the words so far cannot end one ("and", "של", a number being dictated); 0: never held. */
  EOU_HOLD_MAX_MS: z.coerce.number().int().min(0).max(5000).default(1200),
  /** Per language prefix, the words that hold the end of utterance (eou/unfinished.ts); a language given replaces that language's default. */
  EOU_HOLD_WORDS: holdWords.default({ ...DEFAULT_HOLD_WORDS }),
  /** Speech starting within this much of the caller's audio after a turn's speech end, before any of its answer was heard, continues that turn; 0: never. */
  CUTOFF_RECOVERY_MS: z.coerce.number().int().min(0).max(5000).default(1500),
  GREETING_TEXT: z.string().min(1).default(DEFAULT_GREETING_TEXT),
  /** Said before the core ends a call at MAX_CALL_MS or over a per-call budget; synthesized at warmup. */
  CALL_LIMIT_TEXT: z.string().min(1).default(DEFAULT_CALL_LIMIT_TEXT),
  /** The LLM's instructions when neither AGENT_FILE nor AGENT_PROMPT_FILE is set (DEFAULT_SYSTEM_PROMPT when unset). */
  SYSTEM_PROMPT: z.string().min(1).optional(),
  /** Path of the system prompt with the business facts; when set it is the prompt (SYSTEM_PROMPT is not used). */
  AGENT_PROMPT_FILE: promptFile.optional(),
  /** Path of the agent file (JSON: prompt, facts, tools; see tools/agent-schema.ts). Replaces AGENT_PROMPT_FILE and SYSTEM_PROMPT. */
  AGENT_FILE: agentFile.optional(),
  /** Signs every tool request (HMAC-SHA256, tools/sign.ts); required when the agent file has tools. Shared with the tools' service only. */
  TOOL_SIGNING_SECRET: secret.optional(),
  /** A tool call still running after this long gets FIXED_PHRASES.tool_wait, so the caller does not wait in silence. */
  TOOL_FILLER_MS: z.coerce.number().int().min(0).max(30_000).default(700),
  /** Rounds of tool calls one answer may make before the model must answer in words. */
  TOOL_MAX_ROUNDS: z.coerce.number().int().min(1).max(10).default(3),
  /** Budget of the conversation history sent to the LLM (system prompt not counted); see llm/history.ts. */
  HISTORY_MAX_TOKENS: z.coerce.number().int().min(100).default(3000),
  /** Deadline of the call record's summary (one LLM request after the call); past it the core's part goes to the edge without a summary. */
  RECORD_SUMMARY_TIMEOUT_MS: z.coerce.number().int().min(1000).max(120_000).default(15_000),
  /** Keypad digits form a turn on "#" or after this long without another key. */
  DTMF_TIMEOUT_MS: z.coerce.number().int().min(100).default(1500),
  /**
   * Caller audio without words after the agent's last words played, after which FIXED_PHRASES.idle_reprompt
   * is said (call/idle.ts; on the caller's audio clock, so music or a tone on the line counts as silence).
   */
  IDLE_REPROMPT_MS: z.coerce.number().int().min(500).max(600_000).default(8000),
  /** Reprompts left unanswered before FIXED_PHRASES.goodbye and the end of the call (0: the goodbye comes at the first IDLE_REPROMPT_MS). */
  IDLE_MAX_REPROMPTS: z.coerce.number().int().min(0).max(10).default(2),
  FIXED_PHRASES: fixedPhrases.default({ ...DEFAULT_FIXED_PHRASES }),
  /** Signs and checks the edge's per-call token (protocol/src/core-token.ts). */
  CORE_SHARED_SECRET: secret,
  /** During a rotation, the secret being replaced: tokens signed with it are still accepted until it is removed. */
  CORE_SHARED_SECRET_PREVIOUS: secret.optional(),
  // ---- limits: what one caller, or one holder of a core token, can cost -----------------------
  /** Calls one core process serves at once; one more is accepted and closed at once with 1013 (Cloud Run's containerConcurrency should equal it). */
  MAX_CALLS: z.coerce.number().int().min(1).default(100),
  /** Largest frame the call link takes (WebSocket maxPayload); a larger one closes the call with 1009. Twilio's are ~300 bytes; edge.resume carries the conversation. */
  MAX_FRAME_BYTES: z.coerce.number().int().min(4096).max(16 * 1024 * 1024).default(64 * 1024),
  /**
   * Frames other than media (marks, keys, anything else) one call may send per second; the rest of
   * the second is dropped. Twice the edge's limit: the edge is the one that thins a caller's flood,
   * and what it lets through may fall into one of this core's windows from two of its own.
   */
  MAX_FRAMES_PER_SECOND: z.coerce.number().int().min(60).default(2 * DEFAULT_MAX_FRAMES_PER_SECOND),
  /**
   * Caller audio (ms) that may arrive ahead of real time: media is counted on the caller's audio
   * clock (20 ms a frame) against wall time, and what runs further ahead is dropped. Twice the
   * edge's: besides a stall's backlog, the first link's frames arrive at once after the edge held
   * them while the link opened (up to its 10 s connect timeout).
   */
  MAX_AUDIO_BACKLOG_MS: z.coerce.number().int().min(1000).default(2 * DEFAULT_MAX_AUDIO_BACKLOG_MS),
  /** Seconds of dropping (over either limit) without a calm second, after which the call is closed with 1008. */
  FLOOD_CLOSE_AFTER_S: z.coerce.number().int().min(1).default(DEFAULT_FLOOD_CLOSE_AFTER_S),
  /** Longest call: then the core stops listening, says CALL_LIMIT_TEXT and closes (Cloud Run ends a request at its timeout anyway). */
  MAX_CALL_MS: z.coerce.number().int().min(1000).default(3_600_000),
  /**
   * LLM requests one call may make (speculative ones and retries count); past it the call is wrapped
   * up. A talkative hour-long call (a turn every 8 s, ~1.7 requests a turn with speculation) stays under.
   */
  LLM_MAX_REQUESTS_PER_CALL: z.coerce.number().int().min(1).default(600),
  /** Characters one call may send for synthesis (cache misses only; ~$1 of WaveNet); past it the call is wrapped up. */
  TTS_MAX_CHARS_PER_CALL: z.coerce.number().int().min(1).default(60_000),
  /** Texts not in the TTS cache that GET /phrase synthesizes per minute (per process); past it 429. */
  PHRASE_MAX_UNCACHED_PER_MIN: z.coerce.number().int().min(0).default(10),
  DEBUG: flag.default(false),
  /** The Google Cloud project: a call's log lines name its request's trace in it (metrics/trace.ts); unset, they name none. */
  GOOGLE_CLOUD_PROJECT: z.string().min(1).optional(),
  /** Set by Cloud Run: the service and revision that error lines are grouped under in Error Reporting (metrics/error-report.ts). */
  K_SERVICE: z.string().min(1).optional(),
  K_REVISION: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal"]).default("info"),
  /** Callers' words in log lines: off (never), redacted (IDs, phones, cards, e-mails replaced; metrics/redact-words.ts), full (as heard: local debugging only). */
  LOG_TRANSCRIPTS: z.enum(LOG_TRANSCRIPTS_MODES, { message: `expected one of ${LOG_TRANSCRIPTS_MODES.join(", ")}` }).default("redacted"),
});

/** The name of every setting the core reads. */
export const SETTING_NAMES = Object.keys(settingsSchema.shape) as Array<keyof typeof settingsSchema.shape>;

export const configSchema = settingsSchema
  .refine((settings) => settings.STT_STREAM_ROTATE_MS <= settings.STT_STREAM_MAX_MS, {
    message: "must not exceed STT_STREAM_MAX_MS",
    path: ["STT_STREAM_ROTATE_MS"],
  })
  .superRefine((settings, ctx) => {
    const { AGENT_FILE: file } = settings;
    if (!file) return;
    for (const other of ["AGENT_PROMPT_FILE", "SYSTEM_PROMPT"] as const)
      if (settings[other] !== undefined)
        ctx.addIssue({ code: "custom", path: ["AGENT_FILE"], message: `choose one: AGENT_FILE (prompt, facts and tools) or ${other}, not both` });
    if (file.agent.tools.length > 0 && settings.TOOL_SIGNING_SECRET === undefined)
      ctx.addIssue({ code: "custom", path: ["TOOL_SIGNING_SECRET"], message: `required (16+ characters) because ${file.path} has tools` });
    if (settings.TOOL_SIGNING_SECRET !== undefined && [settings.CORE_SHARED_SECRET, settings.CORE_SHARED_SECRET_PREVIOUS].includes(settings.TOOL_SIGNING_SECRET))
      ctx.addIssue({ code: "custom", path: ["TOOL_SIGNING_SECRET"], message: "must differ from CORE_SHARED_SECRET (the tools' service must not be able to sign core tokens)" });
  })
  .transform(({ AGENT_FILE: file, ...settings }) => ({
    ...settings,
    /** The agent file's path, as given. */
    AGENT_FILE: file?.path,
    /** The agent file (AGENT_FILE): prompt, facts, tools. */
    agent: file?.agent,
    /** The system prompt in use: the agent file's prompt and facts, else the prompt file's text, else SYSTEM_PROMPT. */
    systemPrompt: file ? agentPrompt(file.agent) : (settings.AGENT_PROMPT_FILE?.text ?? settings.SYSTEM_PROMPT ?? DEFAULT_SYSTEM_PROMPT),
  }));

/** The agent file's system prompt: its prompt, then a blank line and the business facts when there are any. */
export function agentPrompt(agent: Pick<AgentFile, "prompt" | "facts">): string {
  const facts = agent.facts?.trim();
  return facts ? `${agent.prompt.trim()}\n\n${facts}` : agent.prompt.trim();
}

export type Config = z.infer<typeof configSchema>;

/** Every secret the config holds: the logger replaces each wherever it appears in a line (metrics/redact.ts). */
export function configSecrets(config: Pick<Config, "CORE_SHARED_SECRET" | "CORE_SHARED_SECRET_PREVIOUS" | "OPENAI_API_KEY" | "TOOL_SIGNING_SECRET">): Array<string | undefined> {
  return [config.CORE_SHARED_SECRET, config.CORE_SHARED_SECRET_PREVIOUS, config.OPENAI_API_KEY, config.TOOL_SIGNING_SECRET];
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses the environment; throws one ConfigError naming every bad key. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // An empty variable means "not set", as in most deploy tools.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ""));
  const parsed = configSchema.safeParse(present);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) =>
    issue.code === "custom" && issue.params?.named === true ? issue.message : `${issue.path.join(".") || "(root)"}: ${issue.message}`,
  );
  throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
}

/**
 * GOOGLE_APPLICATION_CREDENTIALS may hold the key JSON itself (handy as a secret env var). Google's
 * libraries want a path, so the content is written once to a private file and `env` repointed to it.
 * Returns the path in use (never the content), or undefined when the variable is not set. Content
 * that is not valid JSON is written too: bad credentials must not stop the process (warmup reports
 * them, see credentials.ts), and the libraries must never take the content for a path and quote it.
 */
export function resolveGoogleCredentials(env: Record<string, string | undefined>): string | undefined {
  const value = env.GOOGLE_APPLICATION_CREDENTIALS?.trim();
  if (!value) return undefined;
  if (!value.startsWith("{")) return value;
  const dir = mkdtempSync(join(tmpdir(), "voice-core-")); // created 0700
  const path = join(dir, "google-credentials.json");
  writeFileSync(path, value, { mode: 0o600 });
  env.GOOGLE_APPLICATION_CREDENTIALS = path;
  return path;
}
