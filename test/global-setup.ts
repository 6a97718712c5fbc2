import { streamReporter } from "../src/reporter/index.js";
import { up } from "../testbed/testbed.js";

/**
 * Integration tests run against the real test bed; `npm test` brings up everything they need,
 * the Docker engine included (idempotent: a second `up` only checks that everything is there).
 * So `npm test` passes on a fresh machine, and after `npm run demo` (which starts no Docker).
 */
export default async function setup(): Promise<void> {
  await up({
    reporter: streamReporter({ write: (t) => process.stderr.write(t) }),
    env: process.env,
    docker: true,
  });
}
