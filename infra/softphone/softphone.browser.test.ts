// The softphone in a real browser: Debian's Chromium, headless, with a fake microphone playing
// recorded speech, places one whole call through the page against the whole local stack (edge in
// workerd, core process, emulators). What a user would notice: the greeting is heard, typed words and
// speech get an answer that plays, speaking over the long answer cuts it off at once, and the call
// view draws the turn's waterfall with the barge-in marked. Chromium is installed when absent.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../local/stack.js";
import { chromiumPath } from "./chromium.js";
import { writeFakeMicrophone } from "./fake-microphone.js";
import type { Softphone } from "./server.js";
import { startSoftphoneForStack } from "./stack-softphone.js";

/** Generous: a loaded 2-core CI machine runs the stack, the browser and the test at once. */
const WAIT_MS = 30_000;
/** How much voice the caller sends for an utterance before muting (the emulator's words need 200 ms at least). */
const UTTERANCE_VOICED_MS = 1200;

let stack: Stack;
let softphone: Softphone;
let browser: Browser;
let page: Page;
let workDir: string;
const pageErrors: string[] = [];

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "softphone-test-"));
  const [executablePath, microphone] = await Promise.all([chromiumPath(), writeFakeMicrophone(workDir)]);
  const quiet = { log: () => {} };
  stack = await startStack({ emulators: { speech: quiet, tts: quiet, openai: quiet }, onEdgeLine: () => {} });
  softphone = await startSoftphoneForStack(stack, { port: 0, log: () => {} });
  browser = await chromium.launch({
    executablePath,
    args: ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", `--use-file-for-fake-audio-capture=${microphone}`, "--autoplay-policy=no-user-gesture-required"],
  });
  page = await browser.newPage();
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => message.type() === "error" && pageErrors.push(message.text()));
  await page.goto(softphone.url);
  // A fresh machine installs Chromium first.
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await softphone?.close();
  await stack?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

const data = (selector: string, name: string) => page.getAttribute(selector, `data-${name}`);
const waitFor = (selector: string) => page.waitForSelector(selector, { timeout: WAIT_MS, state: "attached" });
/** Waits until the page's data attribute `name` of #`id` reaches `atLeast`. */
const waitForCount = (id: string, name: string, atLeast: number) =>
  page.waitForFunction(`Number(document.getElementById(${JSON.stringify(id)}).dataset.${name}) >= ${atLeast}`, undefined, { timeout: WAIT_MS, polling: "raf" });

/**
 * Types the words the speech emulator will hear (none: speaks without typing), unmutes, lets the
 * microphone send `UTTERANCE_VOICED_MS` of voice, and mutes.
 */
async function say(words: string | null, whileUnmuted: () => Promise<void> = async () => {}): Promise<void> {
  if (words !== null) {
    await page.fill("#say", words);
    await page.click("#say-form button[type=submit]");
  }
  const voiced = Number(await data("#mic", "voiced-ms"));
  await page.click("#mute");
  await whileUnmuted();
  await waitForCount("mic", "voicedMs", voiced + UTTERANCE_VOICED_MS);
  await page.click("#mute");
}

describe("the softphone in Chromium", () => {
  it("places a whole call: greeting heard, an answer played, a barge-in clears the playback, the view draws the turn", async () => {
    // Muted before calling: the test decides when the caller speaks.
    await page.click("#mute");
    await page.click("#call");

    // The greeting plays, and its mark goes back once it has played.
    await waitFor('#phone[data-greeting="heard"]');
    expect(Number(await data("#playback", "echoed"))).toBeGreaterThanOrEqual(1);
    expect(await page.isVisible("#say-form")).toBe(true);

    // An utterance with its typed words: the long answer comes and plays.
    await say("tell me about the clinic");
    await waitFor('#say-status[data-taken="1"]');
    await waitFor('li.turn[data-turn="1"]');
    expect(await page.textContent('li.turn[data-turn="1"] .said.caller')).toContain("tell me about the clinic");
    await waitFor('#playback[data-playing="true"]');

    // Speaking over it: the page's queue empties at once.
    expect(Number(await data("#playback", "queued-ms"))).toBeGreaterThan(1000);
    await say("what are your hours", async () => {
      await waitForCount("playback", "clears", 1);
      expect(await data("#playback", "queued-ms")).toBe("0");
    });

    // The view: turn 1's waterfall has a bar for each moment present, and the barge-in is marked on it.
    const turn1 = 'li.turn[data-turn="1"]';
    await waitFor(`${turn1} .badge.barge-in`);
    await waitFor(`${turn1} .marker`);
    for (const key of ["speech", "eou", "stt_final", "first_frame", "heard"]) await waitFor(`${turn1} .row[data-key="${key}"] .bar`);
    // The barge-in's words were heard and answered, and that answer plays.
    await waitFor('li.turn[data-turn="2"]');
    expect(await page.textContent('li.turn[data-turn="2"] .said.caller')).toContain("what are your hours");
    await waitFor('li.turn[data-turn="2"] .row[data-key="heard"] .bar');
    expect(await data("#playback", "playing")).toBe("true");

    // Speech with no words typed: the emulator hears it as nothing, and the page says so. (Speech
    // over the agent may already have given such an utterance: echo cancellation can break it up.)
    const wordless = Number(await data("#say-status", "wordless"));
    await say(null);
    await waitForCount("say-status", "wordless", wordless + 1);
    expect(await page.textContent("#say-status")).toContain("heard speech but you gave it no words");

    await page.click("#hangup");
    await waitFor('#phone[data-state="ended"]');
    // The call is in the session's list; choosing it shows its turns.
    await page.click("#past-calls button.past-call");
    await waitFor('#conversation li.turn[data-turn="2"] .row[data-key="heard"] .bar');
    expect(await page.textContent("#view-title")).toMatch(/^Past call/);
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
