// The agent file's schema (the tool contract's "agent file"), and its verdict on a file's text: an
// AgentFile, or one line naming the first bad field. Pure: the text comes in, the shell
// (agent-file.ts) reads the file.
import { z } from "zod";
import { transferSchema } from "./business-hours.js";
import type { AgentFile } from "./types.js";

/** A tool's name: what the model calls it by (OpenAI's function-name rule). */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
export const TOOL_TIMEOUT_MIN_MS = 100;
export const TOOL_TIMEOUT_MAX_MS = 30_000;
/** More tools than this is a mistake (and past OpenAI's own limit, 128, a failed request on every turn). */
export const MAX_TOOLS = 64;
/** The tools the core runs itself (call/control-tools.ts): an agent file's tool may not take their names. */
export const BUILT_IN_TOOLS = { endCall: "end_call", transfer: "transfer_to_staff", takeMessage: "take_message" } as const;
export const BUILT_IN_TOOL_NAMES: readonly string[] = Object.values(BUILT_IN_TOOLS);

const ENDPOINT_RULE = "must be https:// (http:// only to 127.0.0.1/localhost)";

/** Loopback only: a tool request over plain http never leaves the machine. */
function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

const endpoint = z.string().superRefine((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    ctx.addIssue({ code: "custom", message: `not a URL; ${ENDPOINT_RULE}` });
    return;
  }
  if (url.username || url.password) {
    ctx.addIssue({ code: "custom", message: "must not carry a user name or password (requests are signed with TOOL_SIGNING_SECRET)" });
    return;
  }
  if (url.protocol === "https:" || (url.protocol === "http:" && isLoopback(url.hostname))) return;
  ctx.addIssue({ code: "custom", message: ENDPOINT_RULE });
});

const nonEmpty = z.string().refine((text) => text.trim() !== "", "must not be empty");

/** A JSON schema of the arguments: an object schema; its other keywords are kept as given. */
const parameters = z.looseObject({
  type: z.literal("object", { error: 'must be "object"' }),
  properties: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  required: z.array(z.string()).optional(),
});

const toolSchema = z.strictObject({
  name: z.string().regex(TOOL_NAME, `must match ${TOOL_NAME.source}`),
  description: nonEmpty,
  parameters,
  endpoint,
  sideEffects: z.boolean(),
  timeoutMs: z
    .number()
    .refine(
      (ms) => Number.isInteger(ms) && ms >= TOOL_TIMEOUT_MIN_MS && ms <= TOOL_TIMEOUT_MAX_MS,
      `must be an integer from ${TOOL_TIMEOUT_MIN_MS} to ${TOOL_TIMEOUT_MAX_MS} (milliseconds)`,
    ),
});

export const agentFileSchema = z.strictObject({
  prompt: nonEmpty,
  facts: z.string().optional(),
  tools: z
    .array(toolSchema)
    .max(MAX_TOOLS, `at most ${MAX_TOOLS} tools`)
    .default([])
    .superRefine((tools, ctx) => {
      const first = new Map<string, number>();
      tools.forEach((tool, index) => {
        const earlier = first.get(tool.name);
        if (earlier === undefined) first.set(tool.name, index);
        else ctx.addIssue({ code: "custom", path: [index, "name"], message: `must be unique ("${tool.name}" is also tools[${earlier}].name)` });
        // The core's own tools (call/control-tools.ts) take these names.
        if (BUILT_IN_TOOL_NAMES.includes(tool.name)) ctx.addIssue({ code: "custom", path: [index, "name"], message: `"${tool.name}" is one of the core's built-in tools (${BUILT_IN_TOOL_NAMES.join(", ")})` });
      });
    }),
  /** Transfers to the business's staff (the transfer_to_staff tool), offered only within these hours. Absent: no transfers. */
  transfer: transferSchema.optional(),
});

// The schema's output is exactly what the rest of the core is given.
const outputFits = (file: z.infer<typeof agentFileSchema>): AgentFile => file;
void outputFits;

const KEYS = { root: Object.keys(agentFileSchema.shape), tool: Object.keys(toolSchema.shape), transfer: Object.keys(transferSchema.shape) };

const TYPE_NAMES: Record<string, string> = {
  string: "a string",
  number: "a number",
  boolean: "true or false",
  object: "an object",
  record: "an object",
  array: "a list",
};

/** Plain words for the issues zod words generically (a missing field, a wrong JSON type). */
const errorMap: z.core.$ZodErrorMap = (issue) => {
  if (issue.code === "invalid_type") return issue.input === undefined ? "required" : `must be ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
  return undefined;
};

/** `["tools", 1, "endpoint"]` -> `tools[1].endpoint`; the file itself is `(root)`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) out += typeof part === "number" ? `[${part}]` : `${out ? "." : ""}${String(part)}`;
  return out || "(root)";
}

/** The one line a bad agent file gets: `AGENT_FILE <path>: <field path>: <problem>`. */
export function agentFileError(path: string, field: string, problem: string): Error {
  return new Error(`AGENT_FILE ${path}: ${field}: ${problem}`.replace(/\s*[\r\n]+\s*/g, " "));
}

/** The file's text -> the agent file, or an Error whose message is one line naming the first bad field. */
export function parseAgentFile(path: string, text: string): AgentFile | Error {
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    return agentFileError(path, "(root)", `not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = agentFileSchema.safeParse(data, { error: errorMap });
  if (parsed.success) return parsed.data;
  const [first, ...rest] = parsed.error.issues;
  if (!first) return agentFileError(path, "(root)", "invalid");
  let field = fieldPath(first.path);
  let problem = first.message;
  if (first.code === "unrecognized_keys") {
    // Named by the key itself, with the keys that are allowed there (a typo shows at once).
    field = fieldPath([...first.path, first.keys[0] ?? "?"]);
    problem = `unknown key (expected one of: ${expectedKeys(first.path).join(", ")})`;
  }
  const more = rest.length + (first.code === "unrecognized_keys" ? first.keys.length - 1 : 0);
  return agentFileError(path, field, more > 0 ? `${problem} (+${more} more)` : problem);
}

/** The keys allowed in the object at `path` (an unknown key's message lists them). */
function expectedKeys(path: readonly PropertyKey[]): readonly string[] {
  if (path.length === 0) return KEYS.root;
  if (path[0] === "tools") return KEYS.tool;
  if (path.length === 1) return KEYS.transfer;
  return Object.keys(transferSchema.shape.hours.shape);
}
