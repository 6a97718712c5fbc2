import { streamReporter } from "../src/reporter/index.js";
import { up } from "../testbed/testbed.js";

/**
 * Integration tests run against the real test bed; bring it up (idempotent: a second `up` only
 * checks that everything is there). SLIMWHEEL_TESTBED_DOCKER=1 also starts dockerd.
 */
export default async function setup(): Promise<void> {
  await up({
    reporter: streamReporter({ write: (t) => process.stderr.write(t) }),
    ...(process.env.SLIMWHEEL_TESTBED_DOCKER === "1" ? { docker: true } : {}),
  });
}
