export * from "./twilio.js";
export * from "./core-link.js";
export * from "./twilio-signature.js";
export * from "./core-token.js";
export * from "./greeting.js";
export { timingSafeEqual, toBase64 } from "./crypto.js";
export * from "./mulaw.js";
export * from "./wav.js";
export * from "./turn-line.js";
