/**
 * npm run demo: the main job end to end on this machine: bring the test bed up, then run
 * `slimwheel compare` on an example app against the test bed's images and package index
 * (as a user would run it against python:X / python:X-slim and PyPI).
 *
 *   npm run demo [-- EXAMPLE [--strategies a,b] [--engine E] [--html FILE]]
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { streamReporter } from "../src/reporter/index.js";
import { up } from "./testbed.js";

const ROOT = join(import.meta.dirname, "..");
const [example = "django-postgres", ...rest] = process.argv.slice(2);
const endpoints = await up({
  reporter: streamReporter({ write: (t) => process.stderr.write(t), live: Boolean(process.stderr.isTTY) }),
  env: process.env,
});
const args = [
  join(ROOT, "dist", "cli", "main.js"),
  "compare",
  join(ROOT, "examples", example),
  "--builder-image",
  endpoints.images.builder.pinned,
  "--runtime-image",
  endpoints.images.runtime.pinned,
  "--index-url",
  endpoints.index.url,
  ...(rest.includes("--strategies")
    ? []
    : ["--strategies", "full,slim-apt,single-layer,wheels,venv,slimwheel"]),
  ...(rest.includes("--html") ? [] : ["--html", join(ROOT, `compare-${example}.html`)]),
  ...rest,
];
process.stderr.write(`$ slimwheel ${args.slice(1).join(" ")}\n`);
const r = spawnSync(process.execPath, args, { stdio: "inherit" });
process.exitCode = r.status ?? 1;
