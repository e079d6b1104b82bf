// The agent file (AGENT_FILE) read once at start: the shell over agent-schema.ts, which judges it.
import { readFileSync } from "node:fs";
import { agentFileError, parseAgentFile } from "./agent-schema.js";
import type { AgentFile } from "./types.js";

export { agentFileSchema, parseAgentFile } from "./agent-schema.js";

/** The largest agent file read: a prompt, facts and tools, not a database. */
export const MAX_AGENT_FILE_BYTES = 1024 * 1024;

/** Reads and validates the agent file: an AgentFile, or an Error whose message is `AGENT_FILE <path>: <field path>: <problem>`. */
export function loadAgentFile(path: string): AgentFile | Error {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return agentFileError(path, "(file)", `cannot read: ${code ?? (error instanceof Error ? error.message : String(error))}`);
  }
  if (bytes.length > MAX_AGENT_FILE_BYTES) return agentFileError(path, "(file)", `larger than ${MAX_AGENT_FILE_BYTES} bytes`);
  return parseAgentFile(path, bytes.toString("utf8"));
}
