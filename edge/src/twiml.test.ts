// The TwiML the edge answers with: exact documents, and every value escaped (numbers and texts come
// from settings, the whisper's reason from the model).
import { describe, expect, it } from "vitest";
import { dialStaffTwiml, fallbackTwiml, hangupTwiml, sayTwiml } from "./twiml.js";

const XML = '<?xml version="1.0" encoding="UTF-8"?>';

describe("TwiML", () => {
  it("hangs up", () => {
    expect(hangupTwiml()).toBe(`${XML}<Response><Hangup/></Response>`);
  });

  it("dials the staff with the dial's action, timeout, caller id and the whisper, escaped", () => {
    const twiml = dialStaffTwiml({
      staffNumber: "+97231234567",
      timeoutS: 20,
      callerId: '+972"50"',
      actionUrl: "https://e.test/twilio/dial-ended",
      whisperUrl: "https://e.test/twilio/whisper?call=CA1&x=<y>",
    });
    expect(twiml).toBe(
      `${XML}<Response><Dial action="https://e.test/twilio/dial-ended" timeout="20" callerId="+972&quot;50&quot;">` +
        '<Number url="https://e.test/twilio/whisper?call=CA1&amp;x=&lt;y&gt;">+97231234567</Number></Dial></Response>',
    );
    // An anonymous caller: no caller id attribute rather than an empty one.
    expect(dialStaffTwiml({ staffNumber: "+1", timeoutS: 5, callerId: undefined, actionUrl: "a", whisperUrl: "w" })).toContain('<Dial action="a" timeout="5">');
  });

  it("says the apology and dials the fallback number, or hangs up without one", () => {
    expect(fallbackTwiml("he-IL", "תקלה & סליחה", "+97239876543")).toBe(`${XML}<Response><Say language="he-IL">תקלה &amp; סליחה</Say><Dial>+97239876543</Dial></Response>`);
    expect(fallbackTwiml("he-IL", "תקלה", null)).toBe(`${XML}<Response><Say language="he-IL">תקלה</Say><Hangup/></Response>`);
  });

  it("keeps a reason that looks like TwiML as text", () => {
    expect(sayTwiml("he-IL", "</Say><Dial>+1900</Dial>")).toBe(`${XML}<Response><Say language="he-IL">&lt;/Say&gt;&lt;Dial&gt;+1900&lt;/Dial&gt;</Say></Response>`);
  });
});
