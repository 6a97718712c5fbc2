import { join } from "node:path";
import { exec } from "../../src/util/exec.js";
import type { Endpoints } from "../../testbed/endpoints.js";

const ROOT = join(import.meta.dirname, "..", "..");

/**
 * Builds `examples/<example>` with today's CLI (dist/, `npm run build` first), buildah, the test
 * bed; `extra` adds build options (default: the slim runtime, today's slimwheel image). Returns
 * the `--json` document the build printed.
 */
export async function buildExampleWithCli(
  tb: Endpoints,
  example: string,
  tag: string,
  extra: readonly string[] = ["--runtime", "slim"],
): Promise<Record<string, unknown>> {
  const sources = ["--builder-image", tb.images.builder.pinned, "--runtime-image", tb.images.runtime.pinned];
  const { stdout } = await exec(
    process.execPath,
    [
      join(ROOT, "dist", "cli", "main.js"),
      "--quiet",
      "--json",
      "build",
      join(ROOT, "examples", example),
      ...["-t", tag, "--engine", "buildah", ...sources, "--index-url", tb.index.url, ...extra],
    ],
    { env: process.env, doing: `building ${example} with today's CLI (${extra.join(" ")})` },
  );
  return JSON.parse(stdout) as Record<string, unknown>;
}
