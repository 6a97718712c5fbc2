/**
 * slimwheel's stage cache: the artifacts stage (the built wheels) and what was read from it, kept
 * by a key of everything that stage is built from. A rebuild after an app change then neither
 * builds that stage again nor reads its extension modules again: it goes straight to the final
 * stage. The key covers the stage's instructions (and those of the stages it uses), every build
 * argument, the target platform, the engine, the base image's local ID and the bytes of every file
 * the stages copy from the context, so it changes whenever the engine's own layer cache would miss.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { homedir } from "node:os";
import { join, relative } from "node:path";
import type { Context } from "../context.js";
import type { Engine } from "../engines/types.js";
import { SlimwheelError } from "../errors.js";
import { stageClosure } from "../plan/stages.js";
import type { BuildPlan } from "../plan/types.js";
import type { Resolution } from "../sysdeps/resolve.js";
import { isInside } from "../util/safe-read.js";

/** Bump when the entry's shape or the key's recipe changes. */
const FORMAT = 1;

export interface StageCacheEntry {
  readonly format: number;
  /** The stage image's ID and the local reference that keeps it (named by that ID). */
  readonly imageId: string;
  readonly ref: string;
  readonly detection: {
    readonly resolution: Resolution;
    readonly extensions: number;
    readonly wheels: number;
  };
}

export function stageCacheDir(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache"), "slimwheel", "stages");
}

/** `${NAME}` and `$NAME` replaced by build argument values (then the plan's defaults). */
function substitute(text: string, args: Readonly<Record<string, string>>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (all, a?: string, b?: string) => args[(a ?? b)!] ?? all);
}

async function filesUnder(dir: string, root: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await filesUnder(p, root, out);
    else if ((e.isFile() || e.isSymbolicLink()) && !/^Dockerfile\.slimwheel/.test(relative(root, p)))
      out.push(p);
  }
}

/**
 * What a context file contributes to the key: a regular file its bytes; a symlink its target's text,
 * and the bytes of that target when it is a regular file inside the context (an engine copying the
 * link by name copies them) — a link out of the context is never followed; anything else (a FIFO
 * would block the read) nothing.
 */
async function fileBytes(contextDir: string, p: string): Promise<Buffer | string | undefined> {
  const st = await lstat(p).catch(() => undefined);
  if (st?.isFile()) return readFile(p);
  if (!st?.isSymbolicLink()) return undefined;
  const link = `symlink ${await readlink(p)}\0`;
  const real = await realpath(p).catch(() => undefined);
  const root = await realpath(contextDir).catch(() => contextDir);
  if (real === undefined || !isInside(root, real)) return link;
  const target = await stat(real).catch(() => undefined);
  return target?.isFile() ? Buffer.concat([Buffer.from(link), await readFile(real)]) : link;
}

/** Hashes the context files a COPY source names: a file, a directory's files, or (for "." or a glob) all of them. */
async function hashSources(contextDir: string, sources: readonly string[], h: ReturnType<typeof createHash>) {
  const files: string[] = [];
  for (const src of sources) {
    const clean = src.replace(/^\.\//, "").replace(/\/$/, "");
    if (clean === "." || clean === "" || /[*?[]/.test(clean)) await filesUnder(contextDir, contextDir, files);
    else {
      const p = join(contextDir, clean);
      const st = await lstat(p).catch(() => undefined);
      if (st?.isDirectory()) await filesUnder(p, contextDir, files);
      else if (st) files.push(p);
    }
  }
  for (const f of [...new Set(files)].sort()) {
    const data = await fileBytes(contextDir, f);
    if (data === undefined) continue;
    h.update(`\0file ${relative(contextDir, f)}\0`);
    h.update(data);
  }
}

/**
 * The key of `stage` as this request would build it, or undefined when it cannot be known (a base
 * image that is not local and not pinned by digest: the engine would pull it).
 */
export async function stageKey(
  plan: BuildPlan,
  stage: string,
  request: {
    readonly contextDir: string;
    readonly buildArgs: Readonly<Record<string, string>>;
    readonly platform?: string;
  },
  engine: Engine,
  ctx: Context,
): Promise<string | undefined> {
  const stages = stageClosure(plan, stage);
  if (!stages.length) return undefined;
  const args: Record<string, string> = {};
  for (const a of plan.args) if (a.default !== undefined) args[a.name] = a.default;
  Object.assign(args, request.buildArgs);
  for (const a of plan.args) if (args[a.name] !== undefined) args[a.name] = substitute(args[a.name]!, args);
  const h = createHash("sha256");
  h.update(JSON.stringify({ format: FORMAT, engine: engine.id, platform: request.platform ?? null, args }));
  const names = new Set(stages.map((s) => s.name));
  for (const s of stages) {
    h.update(JSON.stringify(s));
    if (!names.has(s.from)) {
      const ref = substitute(s.from, args);
      const id = /@sha256:[0-9a-f]{64}$/.test(ref) ? ref : await engine.imageId(ref, ctx);
      if (!id) return undefined;
      h.update(`\0base ${id}\0`);
    }
    const sources = s.steps.flatMap((step) => (step.kind === "copy" && !step.from ? step.sources : []));
    await hashSources(request.contextDir, sources, h);
  }
  return h.digest("hex");
}

export async function readStageCache(dir: string, key: string): Promise<StageCacheEntry | undefined> {
  try {
    const entry = JSON.parse(await readFile(join(dir, `${key}.json`), "utf8")) as StageCacheEntry;
    return entry.format === FORMAT && entry.imageId && entry.ref && entry.detection ? entry : undefined;
  } catch {
    return undefined; // missing or unreadable: a miss, and the next build rewrites it
  }
}

/**
 * Writes the entry atomically: a temporary file of its own (process id and a random suffix, so
 * two builds — in two processes or one — never write the same one), then a rename over the entry.
 * A reader sees the old entry or the new one, never part of one; on failure the temporary file goes.
 */
export async function writeStageCache(dir: string, key: string, entry: StageCacheEntry): Promise<void> {
  const path = join(dir, `${key}.json`);
  const text = JSON.stringify(entry);
  const tmp = join(dir, `.${key}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(tmp, text);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code;
    const full = code === "ENOSPC" || code === "EDQUOT" || code === "EFBIG";
    throw new SlimwheelError(
      "io",
      full
        ? `cannot write the stage cache entry ${path}: the disk is full (${Buffer.byteLength(text)} bytes to write; ${code})`
        : `cannot write the stage cache entry ${path}: ${code ?? (e as Error).message}`,
      {
        hint: `free space on the file system of ${dir} (or point XDG_CACHE_HOME elsewhere); the entry was not written`,
        cause: e,
      },
    );
  }
}
