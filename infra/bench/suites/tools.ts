// `npm run bench -- tools`: how soon a caller hears the filler while a tool is slow. The core with
// the local agent file, its tools on the reference booking service behind a gate that holds `book`;
// per call: the caller asks for a slot, says yes, and the time from the book request reaching the
// service to the filler's first audio frame reaching the caller is measured (TOOL_FILLER_MS = 700,
// the default). The filler is a cached phrase: what is measured is the timer, the cache and the send.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startBookingService } from "../../booking/service.js";
import { DEFAULT_FIXED_PHRASES } from "../../../core-node/src/config.js";
import { callerSpeech, startCore, until, type EdgeLink } from "../../../core-node/testing/core-harness.js";
import { ToolGate } from "../../../core-node/testing/tool-gate.js";
import { distribution } from "../../stats/distribution.js";

const SECRET = "tool-signing-secret-for-the-bench";
const FILLER_MS = 700;
const CALLS = 8;
const ASK = "שלום, יש לכם תור פנוי?";
const YES = "כן, בבקשה";

/** Arrival time of the first audio frame of the sentence whose mark names `text`. */
function firstFrameOf(call: EdgeLink, text: string): number | undefined {
  const markAt = call.received.findIndex((frame) => frame.event === "mark" && frame.mark.name.endsWith(`:${text}`));
  if (markAt < 0) return undefined;
  let first = markAt;
  while (first > 0 && call.received[first - 1]!.event === "media") first--;
  return call.arrivals[first];
}

export async function runToolsBench(): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(path.join(tmpdir(), "voice-tools-bench-"));
  const booking = await startBookingService({ port: 0, dbPath: path.join(dir, "bookings.db"), signingSecret: SECRET });
  const gate = new ToolGate(booking.url);
  await gate.start();
  const agent = JSON.parse(await readFile(fileURLToPath(new URL("../../local/agent.he.json", import.meta.url)), "utf8")) as { tools: { endpoint: string }[] };
  for (const tool of agent.tools) tool.endpoint = `${gate.url}${new URL(tool.endpoint).pathname}`;
  await writeFile(path.join(dir, "agent.json"), JSON.stringify(agent));
  const core = await startCore({ env: { AGENT_FILE: path.join(dir, "agent.json"), TOOL_SIGNING_SECRET: SECRET, TOOL_FILLER_MS: String(FILLER_MS), LLM_SPECULATE: "false" } });
  const [ask, yes] = await Promise.all([callerSpeech(ASK), callerSpeech(YES)]);
  const delays: number[] = [];
  try {
    for (let n = 0; n < CALLS; n++) {
      const callSid = `CA${String(n).padStart(32, "0")}`;
      core.emulators.speech.registerScript(callSid, [ASK, YES]);
      const call = await core.open(callSid);
      call.begin(true);
      call.echo("greeting");
      await call.say(ask);
      await call.echoOf("1.end");
      gate.hold("/tools/book");
      await call.say(yes);
      await until(() => gate.arrived.some((r) => r.path === "/tools/book" && r.key.startsWith(`${callSid}:`)), "the book request");
      await until(() => firstFrameOf(call, DEFAULT_FIXED_PHRASES.tool_wait) !== undefined, "the filler");
      const requested = gate.arrived.find((r) => r.path === "/tools/book" && r.key.startsWith(`${callSid}:`))!.at;
      delays.push(firstFrameOf(call, DEFAULT_FIXED_PHRASES.tool_wait)! - requested);
      gate.release("/tools/book");
      await call.mark("2.end");
      await call.hangUp();
    }
  } finally {
    await core.close();
    await gate.close();
    await booking.close();
    await rm(dir, { recursive: true, force: true });
  }
  return { suite: "tools", calls: CALLS, tool_filler_ms: FILLER_MS, filler_first_frame_after_tool_call_ms: distribution(delays), over_filler_ms: distribution(delays.map((d) => d - FILLER_MS)) };
}
