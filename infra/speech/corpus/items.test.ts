import { readFileSync } from "node:fs";
import { levelDbfs, mulawToPcm, parseWav, pcmFromBytes } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import type { ClipsFile } from "./build-clips.js";
import { CONDITIONS, CONTINUE_GAPS_MS, LEAD_SILENCE_MS, QUIET_DROP_DB, trackedUtterances, turnTakingItems, type TurnTakingItem } from "./items.js";

const items = turnTakingItems();
const clipsFile = JSON.parse(readFileSync(new URL("./clips.json", import.meta.url), "utf8")) as ClipsFile;
const gapMs = (g: { startMs: number; endMs: number }) => g.endMs - g.startMs;
const continueItems = items.filter((i) => /\/\d+ms\//.test(i.id));

describe("the turn-taking corpus", () => {
  it("is the same on every build", () => {
    const again = turnTakingItems();
    expect(again.map((i) => i.id)).toEqual(items.map((i) => i.id));
    expect(Buffer.from(again[7]!.audio).equals(Buffer.from(items[7]!.audio))).toBe(true);
  });

  it("has every continue gap length and every condition, and finished sentences at each condition", () => {
    const lengths = new Set(continueItems.flatMap((i) => i.gaps.filter((g) => g.kind === "continue").map((g) => Math.round(gapMs(g)))));
    for (const length of CONTINUE_GAPS_MS) expect(lengths, `${length} ms`).toContain(length);
    for (const cue of ["function_word", "number", "none"]) expect(continueItems.some((i) => i.gaps.some((g) => g.cue === cue)), cue).toBe(true);
    for (const condition of CONDITIONS) expect(items.filter((i) => i.id.includes("/end/") && i.condition === condition).length).toBeGreaterThanOrEqual(20);
    expect(new Set(items.map((i) => i.id)).size).toBe(items.length);
  });

  it("has one line per utterance the speech emulator's tracker finds, each holding the words spoken in it", () => {
    for (const item of items) {
      const utterances = trackedUtterances(item.audio);
      expect(item.lines.length, item.id).toBe(utterances.length);
      item.lines.forEach((line, i) => {
        const length = utterances[i]!.endMs - utterances[i]!.startMs;
        expect(line.text, item.id).toBe(line.words.map((w) => w.text).join(" "));
        expect(line.words.every((w) => w.endMs > 0 && w.endMs <= length), item.id).toBe(true);
        expect(line.words.map((w) => w.endMs), item.id).toEqual([...line.words.map((w) => w.endMs)].sort((a, b) => a - b));
      });
      expect(item.text).toBe(item.lines.map((l) => l.text).join(" "));
    }
  });

  it("puts every continue gap inside one utterance or between two, and the end gap after the last", () => {
    for (const item of items) {
      const utterances = trackedUtterances(item.audio);
      for (const gap of item.gaps.filter((g) => g.kind === "continue")) {
        const inside = utterances.some((u) => u.startMs <= gap.startMs && gap.endMs <= u.endMs);
        const between = utterances.some((u, i) => u.endMs <= gap.startMs + 20 && (utterances[i + 1]?.startMs ?? 0) >= gap.endMs - 20);
        expect(inside || between, `${item.id} ${gap.startMs}-${gap.endMs}`).toBe(true);
      }
      const end = item.gaps.at(-1)!;
      expect(end.kind).toBe("end");
      expect(end.startMs).toBe(item.speechEndMs);
      expect(gapMs(end), item.id).toBeGreaterThanOrEqual(2500);
      expect(utterances.at(-1)!.endMs, item.id).toBeLessThanOrEqual(item.speechEndMs + 60);
    }
  });

  it("splits a clean item at a pause of 500 ms or more, as the emulator finalises after 300 ms of silence", () => {
    for (const item of continueItems.filter((i) => i.condition !== "quiet")) {
      const utterances = trackedUtterances(item.audio);
      for (const gap of item.gaps.filter((g) => g.kind === "continue" && gapMs(g) >= 500))
        expect(utterances.some((u) => u.startMs <= gap.startMs && gap.endMs <= u.endMs), `${item.id}`).toBe(false);
    }
  });

  it("keeps the same words with and without the pause", () => {
    const texts = (prefix: string) => new Set(items.filter((i) => i.id.startsWith(`${prefix}/`)).map((i) => i.text));
    expect(texts("tuesday-at-nine")).toEqual(new Set(["tuesday at nine thirty a.m."]));
    expect(texts("phone-052")).toEqual(new Set(["0 5 2 5 5 5 0 1 4 3"]));
    expect(items.find((i) => i.id === "phone-052/800ms/clean")).toMatchObject({ agentAsked: "What is your phone number?" });
  });

  it("is silent for the lead, speech at a phone level, and QUIET_DROP_DB softer when quiet", () => {
    const level = (item: TurnTakingItem, fromMs: number, toMs: number) => levelDbfs(mulawToPcm(item.audio.subarray(fromMs * 8, toMs * 8)));
    const byId = (id: string) => items.find((i) => i.id === id)!;
    const clean = byId("librivox-0890/end/clean");
    expect(level(clean, 0, LEAD_SILENCE_MS - 40)).toBe(-Infinity);
    expect(level(clean, LEAD_SILENCE_MS, clean.speechEndMs)).toBeGreaterThan(-30);
    expect(level(byId("librivox-0890/end/noise"), 0, LEAD_SILENCE_MS - 40)).toBeGreaterThan(-56);
    expect(level(byId("librivox-0890/end/noise"), 0, LEAD_SILENCE_MS - 40)).toBeLessThan(-48);
    expect(level(clean, LEAD_SILENCE_MS, clean.speechEndMs) - level(byId("librivox-0890/end/quiet"), LEAD_SILENCE_MS, clean.speechEndMs)).toBeCloseTo(QUIET_DROP_DB, 0);
  });
});

describe("the vendored clips", () => {
  it("name their package, version, source file and licence, and each package's attribution", () => {
    for (const [name, source] of Object.entries(clipsFile.sources)) {
      expect(source.licence, name).toMatch(/^(CC-BY-SA-3.0|BSD-2-Clause)$/);
      expect(source.attribution.length, name).toBeGreaterThan(20);
      expect(readFileSync(new URL(`./licences/${name}.copyright`, import.meta.url), "utf8")).toMatch(/License/);
    }
    for (const clip of clipsFile.clips) {
      expect(clipsFile.sources[clip.source.package].version, clip.id).toBe(clip.source.version);
      expect(clip.licence, clip.id).toBe(clipsFile.sources[clip.source.package].licence);
      expect(["single", "valleys", "letters"]).toContain(clip.timing);
    }
    expect(readFileSync(new URL("./ATTRIBUTION.md", import.meta.url), "utf8")).toMatch(/Allison Smith[\s\S]*CC-BY-SA-3.0[\s\S]*Carnegie Mellon/);
  });

  it("are speech: voiced for most of their length, at a speaking level, each different", () => {
    const seen = new Set<string>();
    for (const clip of clipsFile.clips) {
      const wav = parseWav(new Uint8Array(readFileSync(new URL(clip.file, import.meta.url))));
      expect(wav.format, clip.id).toMatchObject({ sampleRate: 8000, channels: 1, bitsPerSample: 16 });
      const pcm = pcmFromBytes(wav.data);
      expect(pcm.length / 8, clip.id).toBeCloseTo(clip.durationMs, 0);
      expect(clip.durationMs, clip.id).toBeGreaterThan(300);
      expect(clip.durationMs, clip.id).toBeLessThan(6000);
      expect(levelDbfs(pcm), clip.id).toBeGreaterThan(-35);
      expect(levelDbfs(pcm), clip.id).toBeLessThan(-6);
      const words = clip.words;
      expect(words.map((w) => w.text).join(" "), clip.id).toBe(clip.text);
      expect(words[0]!.startMs, clip.id).toBeLessThanOrEqual(40);
      expect(clip.durationMs - words.at(-1)!.endMs, clip.id).toBeLessThanOrEqual(40);
      const fingerprint = Array.from(pcm.subarray(800, 816)).join(",");
      expect(seen.has(fingerprint), clip.id).toBe(false);
      seen.add(fingerprint);
    }
  });
});
