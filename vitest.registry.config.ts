import { defineConfig } from "vitest/config";

// The registry tests (test/registry-*.int.test.ts) start their own docker-registry processes on
// free loopback ports and need nothing of the shared test bed: this config runs them without the
// integration project's globalSetup (which brings the test bed up). `npm test` runs them too,
// as part of the integration project.
//   npm run build && npx vitest run --config vitest.registry.config.ts
export default defineConfig({
  test: {
    include: ["test/registry-*.int.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    poolOptions: { forks: { singleFork: true } },
  },
});
