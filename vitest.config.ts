import { defineConfig } from "vitest/config";

// Node-side tests (core, protocol, emulators, simulator, end-to-end) run here;
// the edge's own tests run inside workerd through edge/vitest.config.ts.
export default defineConfig({
  test: {
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
