import { describe, expect, it } from "vitest";
import { parseStreamTwiml, parseTwiml } from "./twiml.js";

describe("TwiML", () => {
  it("reads the stream URL, its parameters (entities decoded) and the <Connect action>", () => {
    const twiml = parseStreamTwiml(
      `<?xml version="1.0"?><Response><Connect><Stream url="wss://edge.example/twilio/media">` +
        `<Parameter name="callSid" value="CA1"/><Parameter name="note" value="a &amp; b"/></Stream></Connect></Response>`,
    );
    expect(twiml).toEqual({ streamUrl: "wss://edge.example/twilio/media", parameters: { callSid: "CA1", note: "a & b" }, action: null });
    const withAction = parseStreamTwiml(
      `<Response><Connect action="https://edge.example/twilio/stream-ended"><Stream url="wss://edge.example/twilio/media"/></Connect></Response>`,
    );
    expect(withAction).toEqual({ streamUrl: "wss://edge.example/twilio/media", parameters: {}, action: "https://edge.example/twilio/stream-ended" });
  });

  it("rejects an answer without <Connect><Stream> with a one-line reason", () => {
    expect(() => parseStreamTwiml("<Response><Say>closed</Say></Response>")).toThrow(/no usable <Connect><Stream>: got <Say>/);
    expect(() => parseStreamTwiml("<Response><Connect><Stream url=\"http://x\"/></Connect></Response>")).toThrow(/ws/);
  });

  it("reads call control's verbs in document order", () => {
    const verbs = parseTwiml(
      `<?xml version="1.0" encoding="UTF-8"?><Response>` +
        `<Say language="he-IL">מצטערים &amp; סליחה</Say>` +
        `<Dial action="https://e/twilio/dial-ended" timeout="20" callerId="+972500000001"><Number url="https://e/twilio/whisper">+97235550100</Number></Dial>` +
        `<Dial>+97235550199</Dial><Hangup/></Response>`,
    );
    expect(verbs).toEqual([
      { verb: "Say", text: "מצטערים & סליחה", language: "he-IL" },
      { verb: "Dial", number: "+97235550100", action: "https://e/twilio/dial-ended", timeoutS: 20, callerId: "+972500000001", whisperUrl: "https://e/twilio/whisper" },
      { verb: "Dial", number: "+97235550199", action: null, timeoutS: null, callerId: null, whisperUrl: null },
      { verb: "Hangup" },
    ]);
  });

  it("names what it cannot act on", () => {
    expect(() => parseTwiml("<Response><Play>https://x/music.mp3</Play></Response>")).toThrow("unexpected TwiML verb <Play>");
    expect(() => parseTwiml("<Response><Dial></Dial></Response>")).toThrow("<Dial> names no number");
    expect(() => parseTwiml('<Response><Dial timeout="soon">+1</Dial></Response>')).toThrow(/<Dial> timeout: timeout must be whole seconds/);
    expect(() => parseTwiml("<Hangup/>")).toThrow("TwiML has no <Response>");
    expect(() => parseTwiml("<Response><Say>unclosed</Response>")).toThrow(/TwiML is not XML/);
  });
});
