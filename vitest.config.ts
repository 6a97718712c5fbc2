import { defineConfig } from "vitest/config";

/**
 * Integration tests too long for CI's 45 minutes (each builds several images cold or runs a whole
 * user path): `npm run test:long` runs them (README.md, contributor section). CI's `npm test` leaves them out.
 */
export const LONG_TESTS = [
  "test/readme.int.test.ts",
  "test/reproducible.int.test.ts",
  "test/sbom-examples.int.test.ts",
  "test/compose.int.test.ts",
  "test/platforms.int.test.ts",
  "test/load-output.int.test.ts",
  // Covered in CI by shorter tests of the same code (layer-cache, interrupt, engine-faults):
  "test/push-warm.int.test.ts",
  "test/committed-dockerfile.int.test.ts",
];
const long = process.env.SLIMWHEEL_LONG_TESTS === "1";

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
          // Pure tests, but many spawn the CLI or Node: on a loaded 2-core machine (the integration
          // project's builds run beside them) 5 s is not enough. Not a speed bound: bench/ measures.
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "integration",
          include: long
            ? LONG_TESTS
            : ["src/**/*.int.test.ts", "test/**/*.int.test.ts", "testbed/**/*.int.test.ts"],
          exclude: long ? [] : [...LONG_TESTS, "node_modules/**", "dist/**"],
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
