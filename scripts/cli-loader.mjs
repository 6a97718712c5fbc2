#!/usr/bin/env node
// slimwheel's command (copied to dist/cli/main.js by scripts/bundle-cli.mjs, which writes the
// bundle's sha256 below): runs the bundled CLI, dist/cli/slimwheel.cjs, with V8's code cache, so
// a start does not compile the 1.1 MB bundle again. The cache is one file,
// $XDG_CACHE_HOME/slimwheel/v8/cli.cache (default ~/.cache), holding a tag of what it was made
// from — Node's version and architecture, the bundle's digest (V8 itself checks little more than
// the source's length) — and the code V8 compiled during a run. Only a cache file owned by this
// user is read (`sudo -E` keeps the user's cache directory). A missing, stale or rejected cache
// costs nothing but the compile: the command runs, and a new cache is written (to a temporary
// file, then renamed) as it exits. SLIMWHEEL_NO_CODE_CACHE=1: neither read nor written.
import { isAscii } from "node:buffer";
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";

const file = join(dirname(fileURLToPath(import.meta.url)), "slimwheel.cjs");
// The bundle is ASCII (esbuild escapes the rest): read as latin1, which is a copy, not a UTF-8
// decode (14 ms of a start). The entry's `#!` line, kept by the bundler, made a comment.
const bytes = readFileSync(file);
const source = bytes.toString(isAscii(bytes) ? "latin1" : "utf8").replace(/^#!/, "//");
const BUNDLE_DIGEST = "@@BUNDLE_DIGEST@@";
const useCache = !process.env.SLIMWHEEL_NO_CODE_CACHE && /^[0-9a-f]{64}$/.test(BUNDLE_DIGEST);
const tag = Buffer.from(`slimwheel-v8 ${process.version} ${process.arch} ${BUNDLE_DIGEST}\n`);
const cacheFile = join(
  process.env.XDG_CACHE_HOME || join(process.env.HOME || homedir(), ".cache"),
  "slimwheel",
  "v8",
  "cli.cache",
);
let cached;
if (useCache) {
  try {
    if (statSync(cacheFile).uid === process.geteuid?.()) {
      const data = readFileSync(cacheFile);
      if (data.subarray(0, tag.length).equals(tag)) cached = data.subarray(tag.length);
    }
  } catch {
    // none yet, or unreadable: compiled as without a cache
  }
}
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename: file,
  cachedData: cached,
});
if (useCache && (!cached || script.cachedDataRejected)) {
  // Written as the command exits: the cache then holds what this run compiled, not just the top level.
  process.once("exit", () => {
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(cacheFile), { recursive: true });
      writeFileSync(tmp, Buffer.concat([tag, script.createCachedData()]));
      renameSync(tmp, cacheFile);
    } catch {
      // a read-only or full cache directory: the next start compiles again
      rmSync(tmp, { force: true });
    }
  });
}
const module = { exports: {} };
script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
