import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formFields, mediaType, readCapped, refuseByHeaders } from "./webhook-body.js";

const FORM = "application/x-www-form-urlencoded";

function chunked(...sizes: number[]): ReadableStream<Uint8Array> {
  const chunks = sizes.map((size) => new Uint8Array(size).fill(0x61));
  return new ReadableStream({
    pull(controller) {
      const next = chunks.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
}

describe("the webhook body's headers", () => {
  it("take a form, with or without parameters, in any case, and nothing else", () => {
    expect(mediaType(`${FORM}; charset=UTF-8`)).toBe(FORM);
    expect(mediaType(" Application/X-WWW-Form-URLEncoded ")).toBe(FORM);
    expect(mediaType("")).toBeUndefined();
    expect(mediaType(null)).toBeUndefined();
    for (const type of [undefined, "", "application/json", "multipart/form-data; boundary=x", `${FORM}x`, `text/plain; x=${FORM}`]) {
      expect(refuseByHeaders(type, "10")).toEqual({ status: 415, reason: "not a form" });
    }
  });

  it("settle a declared length over the cap (413) and one that is not a number (400); no length: read", () => {
    expect(refuseByHeaders(FORM, undefined, 100)).toBeUndefined();
    expect(refuseByHeaders(FORM, "100", 100)).toBeUndefined();
    expect(refuseByHeaders(FORM, "101", 100)).toEqual({ status: 413, reason: "body too large (declared)" });
    expect(refuseByHeaders(FORM, "9".repeat(30), 100)).toEqual({ status: 413, reason: "body too large (declared)" });
    for (const length of ["", "-1", "1e3", "0x10", "10, 10"]) {
      expect(refuseByHeaders(FORM, length, 100)).toEqual({ status: 400, reason: "bad content-length" });
    }
  });
});

describe("the capped read", () => {
  it("gives the whole body up to the cap, in order", async () => {
    const read = await readCapped(chunked(40, 60), 100);
    expect(read.ok && read.bytes.length).toBe(100);
    expect(await readCapped(null, 100)).toEqual({ ok: true, bytes: new Uint8Array(0) });
  });

  it("refuses one byte more with 413, and a body that fails while read with 400", async () => {
    expect(await readCapped(chunked(40, 61), 100)).toEqual({ ok: false, refusal: { status: 413, reason: "body too large" } });
    const failing = new ReadableStream<Uint8Array>({ pull: (controller) => controller.error(new Error("reset")) });
    expect(await readCapped(failing, 100)).toEqual({ ok: false, refusal: { status: 400, reason: "body unreadable" } });
  });
});

describe("the form's fields", () => {
  const bytes = (text: string) => new TextEncoder().encode(text);
  it("are decoded as a form parser decodes them, a __proto__ field kept as a field, the last of a repeated name", () => {
    const fields = formFields(bytes("From=%2B972501234567&Body=a+b%26c&__proto__=x&To=1&To=2&Empty=&Bare"));
    expect(fields).toEqual({ From: "+972501234567", Body: "a b&c", ["__proto__"]: "x", To: "2", Empty: "", Bare: "" });
    expect(Object.getPrototypeOf(fields)).toBe(Object.prototype);
    expect(formFields(bytes("%EF%BB%BFa=%D7%A9"))).toEqual({ "\uFEFFa": "ש" });
    expect(formFields(new Uint8Array([0xef, 0xbb, 0xbf, ...bytes("a=1")]))).toEqual({ a: "1" });
    expect(formFields(bytes("?a=1"))).toEqual({ "?a": "1" });
    expect(formFields(new Uint8Array(0))).toEqual({});
  });

  // workerd's formData() reads a malformed escape ("%", "%zz") its own way; URLSearchParams keeps it as
  // text, as the WHATWG parser (and Twilio's own helpers) do. Twilio encodes every field, so the two
  // agree on whatever Twilio sends: escapes all valid, any other text raw.
  it("are what the runtime's own formData() reads from any properly escaped body (property-based)", async () => {
    const unit = fc.oneof(fc.constantFrom("&", "=", "+", "?", "2", "B", "e", "%2B", "%26", "%3D", "%D7%A9", "%e2%82%ac", "\uFEFF"), fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }).filter((c) => c !== "%"));
    const text = fc.oneof(
      fc.string({ unit, maxLength: 60 }),
      fc.dictionary(fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" })).map((p) => new URLSearchParams(p).toString()),
    );
    await fc.assert(
      fc.asyncProperty(text, async (body) => {
        const request = new Request("http://edge.internal/", { method: "POST", headers: { "content-type": FORM }, body });
        const parsed = Object.fromEntries([...(await request.formData())].map(([name, value]) => [name, String(value)]));
        expect(formFields(bytes(body))).toEqual(parsed);
      }),
      { seed: 8061, numRuns: 300 },
    );
  });
});
