import { packageVersion } from "../../src/cli/version.js";
import type { Context } from "../../src/context.js";
import { silentReporter } from "../../src/reporter/index.js";
import type { Endpoints } from "../../testbed/endpoints.js";

/** A library context for tests: silent, the real environment. */
export function testContext(): Context {
  return {
    signal: new AbortController().signal,
    reporter: silentReporter,
    cwd: process.cwd(),
    env: process.env,
    now: Date.now,
  };
}

/** Image sources pointing at the test bed (never PyPI or Docker Hub). */
export function testbedSources(tb: Endpoints) {
  return {
    builderImage: tb.images.builder.pinned,
    runtimeImage: tb.images.runtime.pinned,
    indexUrl: tb.index.url,
    version: packageVersion(),
  };
}
