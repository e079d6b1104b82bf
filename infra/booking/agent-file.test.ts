// The local agent file (infra/local/agent.he.json, what `npm start` gives the core) against both
// ends: the core's own validation accepts it, and the core's own signer, sending each of its tools'
// requests, is answered by the booking service.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAgentFile } from "../../core-node/src/tools/agent-schema.js";
import { toolRequest } from "../../core-node/src/tools/sign.js";
import type { AgentFile } from "../../core-node/src/tools/types.js";
import { TOOL_NAMES } from "./decide.js";
import { DEFAULT_BOOKING_PORT, startBookingService, type BookingService } from "./service.js";

const AGENT_FILE = fileURLToPath(new URL("../local/agent.he.json", import.meta.url));
const SECRET = "agent-file-test-signing-secret";
const NOW = Date.parse("2026-12-10T08:00:00Z");

function agentFile(): AgentFile {
  const parsed = parseAgentFile(AGENT_FILE, readFileSync(AGENT_FILE, "utf8"));
  if (parsed instanceof Error) throw parsed;
  return parsed;
}

describe("the local agent file", () => {
  it("is valid for the core, and offers exactly the booking service's tools", () => {
    const agent = agentFile();
    expect(agent.tools.map((tool) => [tool.name, tool.endpoint, tool.sideEffects, tool.timeoutMs])).toEqual([
      ["find_slots", `http://127.0.0.1:${DEFAULT_BOOKING_PORT}/tools/find_slots`, false, 3000],
      ["book", `http://127.0.0.1:${DEFAULT_BOOKING_PORT}/tools/book`, true, 3000],
      ["cancel", `http://127.0.0.1:${DEFAULT_BOOKING_PORT}/tools/cancel`, true, 3000],
    ]);
    expect(agent.tools.map((tool) => tool.name)).toEqual([...TOOL_NAMES]);
  });

  it("its prompt says what the tools let the agent do, by their names", () => {
    const { prompt } = agentFile();
    for (const name of TOOL_NAMES) expect(prompt).toContain(name);
    expect(prompt).toMatch(/לבדוק תורים פנויים/);
    expect(prompt).toMatch(/לקבוע תור/);
    expect(prompt).toMatch(/לבטל תור/);
  });
});

describe("the core's signed requests, for the agent file's tools", () => {
  let dir: string;
  let service: BookingService;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "booking-agent-"));
    service = await startBookingService({ dbPath: path.join(dir, "booking.db"), signingSecret: SECRET, now: () => NOW });
  });
  afterAll(async () => {
    await service.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("are answered: slots found, one booked, then cancelled", async () => {
    const tools = new Map(agentFile().tools.map((tool) => [tool.name, { ...tool, endpoint: tool.endpoint.replace(`http://127.0.0.1:${DEFAULT_BOOKING_PORT}`, service.url) }]));
    const context = (toolCallId: string) => ({ callSid: "CAagent", from: "+972501234567", toolCallId, signal: new AbortController().signal });
    const send = async (name: string, args: unknown, toolCallId: string) => {
      const request = toolRequest(tools.get(name)!, args, context(toolCallId), SECRET, NOW);
      const response = await fetch(request.url, { method: "POST", headers: request.headers, body: request.body });
      return { status: response.status, body: (await response.json()) as { result: Record<string, unknown> } };
    };

    const found = await send("find_slots", {}, "call_1");
    expect(found).toEqual({ status: 200, body: { result: { date: "2026-12-13", slots: ["2026-12-13T09:00", "2026-12-13T09:30", "2026-12-13T10:00"] } } });
    const booked = await send("book", { slot: "2026-12-13T09:00", name: "דנה" }, "call_2");
    expect(booked.status).toBe(200);
    const { id } = booked.body.result.appointment as { id: string };
    expect(await send("cancel", { appointment_id: id }, "call_3")).toEqual({ status: 200, body: { result: { cancelled: true, appointment_id: id } } });
  });
});
