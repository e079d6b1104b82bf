import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadAgentFile, MAX_AGENT_FILE_BYTES } from "./agent-file.js";
import { fieldPath, parseAgentFile } from "./agent-schema.js";

const FIND_SLOTS = {
  name: "find_slots",
  description: "Free appointment slots on a day",
  parameters: { type: "object", properties: { date: { type: "string", description: "YYYY-MM-DD; omit for the next working day" } }, required: [] },
  endpoint: "http://127.0.0.1:8091/tools/find_slots",
  sideEffects: false,
  timeoutMs: 3000,
};
const BOOK = {
  name: "book",
  description: "Book a slot",
  parameters: { type: "object", properties: { slot: { type: "string" }, name: { type: "string" } }, required: ["slot", "name"], additionalProperties: false },
  endpoint: "https://booking.example.com/tools/book",
  sideEffects: true,
  timeoutMs: 5000,
};
const GOOD = { prompt: "You are the receptionist of a dental clinic.", facts: "Open Sun-Thu 8-18.", tools: [FIND_SLOTS, BOOK] };
const TRANSFER = { timeZone: "Asia/Jerusalem", hours: { sun: ["08:00", "18:00"], thu: ["08:00", "13:00"] } };

const dir = mkdtempSync(join(tmpdir(), "agent-file-"));
let written = 0;
function fileWith(content: unknown): string {
  const path = join(dir, `agent-${++written}.json`);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content, null, 2));
  return path;
}

/** The agent file with one tool's field replaced (undefined removes it). */
function withTool(index: number, field: string, value: unknown): unknown {
  const tools = GOOD.tools.map((tool, i) => {
    if (i !== index) return tool;
    const copy: Record<string, unknown> = { ...tool, [field]: value };
    if (value === undefined) delete copy[field];
    return copy;
  });
  return { ...GOOD, tools };
}

function problem(content: unknown): string {
  const path = fileWith(content);
  const loaded = loadAgentFile(path);
  if (!(loaded instanceof Error)) throw new Error("expected the file to be refused");
  expect(loaded.message).not.toContain("\n");
  expect(loaded.message.startsWith(`AGENT_FILE ${path}: `)).toBe(true);
  return loaded.message.slice(`AGENT_FILE ${path}: `.length);
}

describe("loadAgentFile", () => {
  it("reads a good file: prompt, facts, tools, the parameters kept exactly as given", () => {
    const loaded = loadAgentFile(fileWith(GOOD));
    expect(loaded).toEqual(GOOD);
    expect(loadAgentFile(fileWith({ prompt: "Just answer questions." }))).toEqual({ prompt: "Just answer questions.", tools: [] });
    // A byte-order mark (some editors write one) is not an error.
    expect(loadAgentFile(fileWith(`\uFEFF${JSON.stringify(GOOD)}`))).toEqual(GOOD);
  });

  it("takes https anywhere, and http only to a loopback host", () => {
    for (const endpoint of ["https://x.example/t", "http://localhost:8091/t", "http://127.0.0.1/t", "http://127.9.9.9:1/t", "http://[::1]:8091/t"])
      expect(loadAgentFile(fileWith(withTool(0, "endpoint", endpoint))), endpoint).not.toBeInstanceOf(Error);
  });

  it("names each bad field in one line", () => {
    const endpointRule = "must be https:// (http:// only to 127.0.0.1/localhost)";
    const cases: Array<[unknown, string]> = [
      [withTool(1, "endpoint", "http://booking.example.com/tools/book"), `tools[1].endpoint: ${endpointRule}`],
      [withTool(0, "endpoint", "http://10.0.0.5/t"), `tools[0].endpoint: ${endpointRule}`],
      [withTool(0, "endpoint", "ftp://127.0.0.1/t"), `tools[0].endpoint: ${endpointRule}`],
      [withTool(0, "endpoint", "find_slots"), `tools[0].endpoint: not a URL; ${endpointRule}`],
      [withTool(0, "endpoint", "https://user:pw@x.example/t"), "tools[0].endpoint: must not carry a user name or password (requests are signed with TOOL_SIGNING_SECRET)"],
      [withTool(0, "name", "find slots"), "tools[0].name: must match ^[a-zA-Z0-9_-]{1,64}$"],
      [withTool(0, "name", "x".repeat(65)), "tools[0].name: must match ^[a-zA-Z0-9_-]{1,64}$"],
      [withTool(0, "name", ""), "tools[0].name: must match ^[a-zA-Z0-9_-]{1,64}$"],
      [withTool(1, "name", "find_slots"), 'tools[1].name: must be unique ("find_slots" is also tools[0].name)'],
      [withTool(0, "timeoutMs", 99), "tools[0].timeoutMs: must be an integer from 100 to 30000 (milliseconds)"],
      [withTool(0, "timeoutMs", 30_001), "tools[0].timeoutMs: must be an integer from 100 to 30000 (milliseconds)"],
      [withTool(0, "timeoutMs", 150.5), "tools[0].timeoutMs: must be an integer from 100 to 30000 (milliseconds)"],
      [withTool(0, "timeoutMs", "3000"), "tools[0].timeoutMs: must be a number"],
      [withTool(0, "timeoutMs", undefined), "tools[0].timeoutMs: required"],
      [withTool(0, "sideEffects", undefined), "tools[0].sideEffects: required"],
      [withTool(0, "sideEffects", "no"), "tools[0].sideEffects: must be true or false"],
      [withTool(0, "description", " "), "tools[0].description: must not be empty"],
      [withTool(0, "parameters", { properties: {} }), 'tools[0].parameters.type: must be "object"'],
      [withTool(0, "parameters", { type: "string" }), 'tools[0].parameters.type: must be "object"'],
      [withTool(0, "parameters", ["date"]), "tools[0].parameters: must be an object"],
      [withTool(0, "parameters", { type: "object", properties: { date: "string" } }), "tools[0].parameters.properties.date: must be an object"],
      [withTool(0, "parameters", { type: "object", required: "date" }), "tools[0].parameters.required: must be a list"],
      [withTool(0, "sideEffect", true), "tools[0].sideEffect: unknown key (expected one of: name, description, parameters, endpoint, sideEffects, timeoutMs)"],
      [{ ...GOOD, prompt: "" }, "prompt: must not be empty"],
      [{ ...GOOD, prompt: " \n " }, "prompt: must not be empty"],
      [{ facts: "x", tools: [] }, "prompt: required"],
      [{ ...GOOD, facts: 3 }, "facts: must be a string"],
      [{ ...GOOD, tools: {} }, "tools: must be a list"],
      [{ ...GOOD, tools: Array.from({ length: 65 }, (_, i) => ({ ...FIND_SLOTS, name: `t${i}` })) }, "tools: at most 64 tools"],
      [{ ...GOOD, secret: "x" }, "secret: unknown key (expected one of: prompt, facts, tools, transfer)"],
      [withTool(0, "name", "end_call"), 'tools[0].name: "end_call" is one of the core\'s built-in tools (end_call, transfer_to_staff, take_message)'],
      [{ ...GOOD, transfer: { ...TRANSFER, timeZone: "Israel/Tel Aviv" } }, "transfer.timeZone: must be an IANA time zone name, e.g. Asia/Jerusalem"],
      [{ ...GOOD, transfer: { ...TRANSFER, hours: { sun: ["08:00", "18:0"] } } }, 'transfer.hours.sun[1]: must be "HH:MM"'],
      [{ ...GOOD, transfer: { ...TRANSFER, hours: { sun: ["18:00", "08:00"] } } }, "transfer.hours.sun: the opening time must come before the closing time"],
      [{ ...GOOD, transfer: { ...TRANSFER, hours: { sunday: ["08:00", "18:00"] } } }, "transfer.hours.sunday: unknown key (expected one of: sun, mon, tue, wed, thu, fri, sat)"],
      [{ ...GOOD, transfer: { ...TRANSFER, staff: "+972" } }, "transfer.staff: unknown key (expected one of: timeZone, hours)"],
      [[GOOD], "(root): must be an object"],
      ['{"prompt": "x",}', expect.stringMatching(/^\(root\): not valid JSON: /) as unknown as string],
    ];
    for (const [content, expected] of cases) expect(problem(content), JSON.stringify(content).slice(0, 120)).toEqual(expected);
  });

  it("names the first problem and counts the others", () => {
    expect(problem({ prompt: "", tools: [{ ...FIND_SLOTS, timeoutMs: 5 }] })).toBe("prompt: must not be empty (+1 more)");
    expect(problem({ prompt: "x", a: 1, b: 2 })).toBe("a: unknown key (expected one of: prompt, facts, tools, transfer) (+1 more)");
  });

  it("names the file when it cannot be read or is too large", () => {
    const missing = join(dir, "no-such-agent.json");
    expect((loadAgentFile(missing) as Error).message).toBe(`AGENT_FILE ${missing}: (file): cannot read: ENOENT`);
    expect((loadAgentFile(dir) as Error).message).toBe(`AGENT_FILE ${dir}: (file): cannot read: EISDIR`);
    const big = fileWith(JSON.stringify({ prompt: "x".repeat(MAX_AGENT_FILE_BYTES) }));
    expect((loadAgentFile(big) as Error).message).toBe(`AGENT_FILE ${big}: (file): larger than ${MAX_AGENT_FILE_BYTES} bytes`);
  });
});

describe("parseAgentFile (pure)", () => {
  it("judges a text without touching the disk", () => {
    expect(parseAgentFile("agent.json", JSON.stringify(GOOD))).toEqual(GOOD);
    expect(parseAgentFile("agent.json", JSON.stringify({ ...GOOD, transfer: TRANSFER }))).toEqual({ ...GOOD, transfer: TRANSFER });
    expect((parseAgentFile("agent.json", JSON.stringify(withTool(1, "endpoint", "http://example.com/t"))) as Error).message).toBe(
      "AGENT_FILE agent.json: tools[1].endpoint: must be https:// (http:// only to 127.0.0.1/localhost)",
    );
  });

  it("writes field paths as they read in the file", () => {
    expect(fieldPath([])).toBe("(root)");
    expect(fieldPath(["tools", 1, "endpoint"])).toBe("tools[1].endpoint");
    expect(fieldPath(["tools", 0, "parameters", "properties", "date"])).toBe("tools[0].parameters.properties.date");
  });
});
