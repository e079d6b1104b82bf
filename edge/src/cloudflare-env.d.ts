// Types for the Workers test runtime: `env` and `exports` from "cloudflare:workers" are this worker's.
type EdgeBindings = import("./env.js").Env;

declare namespace Cloudflare {
  interface Env extends EdgeBindings {}
  interface GlobalProps {
    mainModule: typeof import("./index.js");
  }
}
