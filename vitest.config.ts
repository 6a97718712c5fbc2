import { defineConfig } from "vitest/config";

// Two projects: fast pure unit tests, and integration tests that use the real test bed
// (registry, builder, package index). Integration tests run one file at a time: they share
// the 2-core machine with real container builds.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["src/**/*.test.ts", "testbed/**/*.test.ts"],
          exclude: ["**/*.int.test.ts", "node_modules/**", "dist/**"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["src/**/*.int.test.ts", "test/**/*.int.test.ts", "testbed/**/*.int.test.ts"],
          testTimeout: 600_000,
          hookTimeout: 900_000,
          // One file at a time: real container builds share a 2-core machine.
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
          globalSetup: ["test/global-setup.ts"],
        },
      },
    ],
  },
});
