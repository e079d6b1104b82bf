import { defineConfig } from "vitest/config";

// Node-side tests (core, protocol, emulators, simulator, end-to-end) run here;
// the edge's own tests run inside workerd through edge/vitest.config.ts.
export default defineConfig({
  test: {
    // Most files spend their time waiting on real-time calls, not on the CPU: two at once halves the
    // suite's wall time on the 2-core CI machine (vitest's default there is one).
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: "node",
          include: ["protocol/src/**/*.test.ts", "core-node/src/**/*.test.ts", "infra/**/*.test.ts"],
          exclude: ["**/node_modules/**"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      "edge/vitest.config.ts",
    ],
  },
});
