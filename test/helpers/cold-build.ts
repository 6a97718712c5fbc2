/**
 * A cold build of an example as a user's fresh clone would make it: the example copied to its own
 * directory, made a git repository with one commit at a fixed date (so SOURCE_DATE_EPOCH comes
 * from the commit, as when unset), slimwheel's caches in an empty directory of their own
 * (XDG_CACHE_HOME), built by today's CLI (dist/, `npm run build` first) with `--output`.
 */
import { cp, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { exec } from "../../src/util/exec.js";
import type { Endpoints } from "../../testbed/endpoints.js";

const ROOT = join(import.meta.dirname, "..", "..");

/** The commit date of every clone: 2024-01-02T03:04:05Z. */
export const CLONE_EPOCH = 1704164645;

/**
 * `examples/<example>` copied to `<dir>/<example>` and committed once (author and committer dates
 * CLONE_EPOCH, fixed identity); returns the clone's path. The directory is named after the example
 * in every clone: the project's name (the image's title label) may come from it.
 */
export async function cloneExample(example: string, dir: string, change?: (clone: string) => Promise<void>) {
  const clone = join(dir, example);
  await mkdir(dir, { recursive: true });
  await cp(join(ROOT, "examples", example), clone, { recursive: true });
  await change?.(clone);
  const date = `@${CLONE_EPOCH} +0000`;
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: "slimwheel tests",
    GIT_AUTHOR_EMAIL: "tests@example.invalid",
    GIT_COMMITTER_NAME: "slimwheel tests",
    GIT_COMMITTER_EMAIL: "tests@example.invalid",
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_DATE: date,
  };
  for (const args of [
    ["init", "-q"],
    ["add", "-A"],
    ["commit", "-q", "-m", "clone"],
  ])
    await exec("git", args, { cwd: clone, env, doing: `git ${args[0]} in ${clone}` });
  return clone;
}

export interface ColdBuild {
  readonly output: string;
  readonly json: Record<string, unknown>;
  readonly seconds: number;
}

/**
 * Builds `projectDir` with today's CLI and an empty cache directory `<workDir>/cache`, writing
 * `output` (e.g. `oci:DIR`); SOURCE_DATE_EPOCH unset. `extra`: more build options.
 */
export async function cliBuild(
  tb: Endpoints,
  projectDir: string,
  workDir: string,
  tag: string,
  extra: readonly string[],
): Promise<ColdBuild> {
  const cache = join(workDir, "cache");
  await mkdir(cache, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: cache };
  delete env.SOURCE_DATE_EPOCH;
  const started = Date.now();
  const sources = ["--builder-image", tb.images.builder.pinned, "--runtime-image", tb.images.runtime.pinned];
  const run = () =>
    exec(
      process.execPath,
      [
        join(ROOT, "dist", "cli", "main.js"),
        "--quiet",
        "--json",
        "build",
        projectDir,
        ...["-t", tag, "--engine", "buildah", ...sources, "--index-url", tb.index.url, ...extra],
      ],
      { env, doing: `building ${projectDir} (${extra.join(" ")})`, allowFailure: true },
    );
  let r = await run();
  // buildah's storage is shared with other builds on this machine: one that removes images while
  // this build checks its layer cache makes buildah 1.28 fail with "layer not known". Once more.
  if (r.code !== 0 && /layer not known/.test(r.stdout + r.stderr)) r = await run();
  if (r.code !== 0)
    throw new Error(
      `building ${projectDir} (${extra.join(" ")}) failed (exit ${r.code}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`,
    );
  const stdout = r.stdout;
  return {
    output: extra[extra.indexOf("--output") + 1] ?? "",
    json: JSON.parse(stdout) as Record<string, unknown>,
    seconds: (Date.now() - started) / 1000,
  };
}

/** Removes images by tag from buildah's storage (best effort). */
export async function removeImages(...tags: string[]): Promise<void> {
  for (const t of tags)
    await exec("buildah", ["rmi", "--force", t], { env: process.env, allowFailure: true });
}
