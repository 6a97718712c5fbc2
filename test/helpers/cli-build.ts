import { join } from "node:path";
import { exec } from "../../src/util/exec.js";
import type { Endpoints } from "../../testbed/endpoints.js";

const ROOT = join(import.meta.dirname, "..", "..");

/** Builds `examples/<example>` with today's CLI (dist/, `npm run build` first), buildah, the test bed. */
export async function buildExampleWithCli(tb: Endpoints, example: string, tag: string): Promise<void> {
  const sources = ["--builder-image", tb.images.builder.pinned, "--runtime-image", tb.images.runtime.pinned];
  await exec(
    process.execPath,
    [
      join(ROOT, "dist", "cli", "main.js"),
      "--quiet",
      "build",
      join(ROOT, "examples", example),
      ...["-t", tag, "--engine", "buildah", ...sources, "--index-url", tb.index.url],
    ],
    { env: process.env, doing: `building ${example} with today's CLI` },
  );
}
