// The .env `npm start` (and `npm run phone:webhook`) read: KEY=value lines, as Node's own parser reads
// them (util.parseEnv: quotes, multi-line quoted values, `export`, # comments), after a check of the
// lines that parser would take silently in some other way (a line that is not KEY=value, a quote
// never closed, a key set twice). Problems are one line naming the line or the key, never a value.
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";
import { loadConfig, SETTING_NAMES } from "../../core-node/src/config.js";
import { planServices, type ServicePlan } from "./services.js";

/** The .env at the repository's root; ENV_FILE names another. */
export const DEFAULT_ENV_FILE = fileURLToPath(new URL("../../.env", import.meta.url));

export type EnvTextResult = { ok: true; env: Record<string, string> } | { ok: false; error: string };

const ASSIGNMENT = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/;
const QUOTES = ["'", '"', "`"];

/** A .env's settings; a problem is one line ("line 4: ...", "KEY: ..."). */
export function parseEnvText(text: string): EnvTextResult {
  const lines = text.split(/\r?\n/);
  const seen = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "" || line.trim().startsWith("#")) continue;
    const match = ASSIGNMENT.exec(line);
    if (!match) return { ok: false, error: `line ${i + 1}: expected KEY=value (or a # comment)` };
    const [, key, value] = match as unknown as [string, string, string];
    if (seen.has(key)) return { ok: false, error: `${key}: set twice (lines ${seen.get(key)} and ${i + 1})` };
    seen.set(key, i + 1);
    const quote = QUOTES.find((q) => value.startsWith(q));
    if (quote === undefined || value.indexOf(quote, 1) > 0) continue;
    // A quoted value may go on over the next lines, up to its closing quote.
    const closing = lines.findIndex((later, j) => j > i && later.includes(quote));
    if (closing < 0) return { ok: false, error: `${key}: the ${quote} that opens its value (line ${i + 1}) is never closed` };
    i = closing;
  }
  const parsed = parseEnv(text);
  return { ok: true, env: Object.fromEntries([...seen.keys()].map((key) => [key, parsed[key] ?? ""])) };
}

/** Reads a .env: its settings, or undefined when `file` does not exist; throws one line on a bad file. */
export function readEnvFile(file: string): Record<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`${file}: cannot read it: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const parsed = parseEnvText(text);
  if (!parsed.ok) throw new Error(`${file}: ${parsed.error}`);
  return parsed.env;
}

/** The .env to read: ENV_FILE when set (then it must exist), else the repository's. */
export function envFilePath(processEnv: Record<string, string | undefined>): { file: string; required: boolean } {
  const named = processEnv.ENV_FILE?.trim();
  return named ? { file: path.resolve(named), required: true } : { file: DEFAULT_ENV_FILE, required: false };
}

/** Placeholders for the settings the stack gives the core itself, so the .env's own are checked as the core will. */
const STACK_SECRETS = { CORE_SHARED_SECRET: "placeholder-core-secret", TOOL_SIGNING_SECRET: "placeholder-tool-secret" };

/**
 * What `npm start` runs, from the .env at `file` (none there: every service emulated). Throws one
 * line naming the file and the key on a bad .env: unknown key, missing file, a setting the core
 * would refuse.
 */
export function loadServicePlan(file: string, required = false): ServicePlan {
  const env = readEnvFile(file);
  if (env === undefined && required) throw new Error(`${file}: no such file (ENV_FILE)`);
  const dir = path.dirname(file);
  const planned = planServices({
    env: env ?? {},
    ...(env !== undefined && { source: file }),
    coreSettings: SETTING_NAMES,
    locateFile(given) {
      const located = path.resolve(dir, given);
      try {
        return statSync(located).isFile() ? located : undefined;
      } catch {
        return undefined;
      }
    },
  });
  if (!planned.ok) throw new Error(`${file}: ${planned.error}`);
  try {
    loadConfig({ ...planned.plan.coreEnv, ...STACK_SECRETS });
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`);
  }
  return planned.plan;
}
