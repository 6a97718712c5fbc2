/**
 * `slimwheel cache ls|prune`: what slimwheel keeps between builds, listed and removed.
 *
 * slimwheel's own cache is the stage cache (`stage-cache.ts`): one JSON entry per built artifacts
 * stage under `$XDG_CACHE_HOME/slimwheel/stages/` (else `~/.cache/…`), each naming the engine
 * image that holds the stage (`localhost/slimwheel-stage:STAGE-ID`). The files are handled here,
 * on disk; the images only through the engine abstraction (`imageId`, `removeImages`), in
 * `checkImages` and `removeEntryImages` at the end of this file, which tests cannot run.
 */
import { readdir, readFile, rm, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Context } from "../context.js";
import type { Engine } from "../engines/types.js";
import { SlimwheelError } from "../errors.js";

export interface CacheEntry {
  /** `stage`: a readable entry; `invalid`: unreadable or of another format; `temp`: a write's leftover. */
  readonly kind: "stage" | "invalid" | "temp";
  /** The entry's key (its file name without `.json`). */
  readonly key: string;
  readonly file: string;
  /** Bytes of the entry's file. */
  readonly bytes: number;
  /** Last written (ms since the epoch): a stage entry is rewritten each time it is built. */
  readonly modifiedMs: number;
  readonly ref?: string;
  readonly imageId?: string;
  /** Whether the engine still holds the entry's image (`unknown`: no engine was asked). */
  readonly image: "present" | "missing" | "unknown";
}

const FORMAT = 1;

/** The names in a cache directory, sorted; none when it does not exist. */
async function cacheDirNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new SlimwheelError("io", `reading the cache directory ${dir}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** Every file of the stage cache in `dir` (none: the directory does not exist), oldest first. */
export async function listStageCache(dir: string): Promise<CacheEntry[]> {
  const names = await cacheDirNames(dir);
  const out: CacheEntry[] = [];
  for (const name of names) {
    const file = join(dir, name);
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) continue;
    const base = { file, bytes: st.size, modifiedMs: st.mtimeMs, image: "unknown" as const };
    const temp = /^\.(.+)\.\d+\.tmp$/.exec(name);
    if (temp) {
      out.push({ ...base, kind: "temp", key: temp[1]! });
      continue;
    }
    if (!name.endsWith(".json")) continue;
    const key = name.slice(0, -".json".length);
    let json: { format?: unknown; ref?: unknown; imageId?: unknown } | undefined;
    try {
      json = JSON.parse(await readFile(file, "utf8")) as typeof json;
    } catch {
      json = undefined;
    }
    if (json && json.format === FORMAT && typeof json.ref === "string" && typeof json.imageId === "string")
      out.push({ ...base, kind: "stage", key, ref: json.ref, imageId: json.imageId });
    else out.push({ ...base, kind: "invalid", key });
  }
  return out.sort((a, b) => a.modifiedMs - b.modifiedMs || a.key.localeCompare(b.key));
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `30m`, `12h`, `7d`, `2w`, or a combination (`1d12h`) → milliseconds. */
export function parseDuration(text: string, flag = "--older-than"): number {
  const t = text.trim();
  if (!/^(\d+(\.\d+)?[smhdw])+$/.test(t))
    throw new SlimwheelError("usage", `${flag} "${text}" is not a duration`, {
      hint: "write a number and a unit: s, m, h, d or w, e.g. 7d, 12h, 1d12h",
    });
  let ms = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)([smhdw])/g)) ms += Number(m[1]) * UNITS[m[2]!]!;
  return ms;
}

/** A write in progress is left alone: a temp file is garbage only after an hour. */
const TEMP_GRACE_MS = 3_600_000;

export interface PruneSelection {
  /** Every entry. */
  readonly all?: boolean;
  /** Entries last written longer ago than this. */
  readonly olderThanMs?: number;
  readonly now: number;
}

/**
 * What `prune` removes: everything with `all`; entries older than `olderThanMs` when given;
 * always the garbage: invalid entries, temp files older than an hour, entries whose image the
 * engine no longer has.
 */
export function selectForPrune(entries: readonly CacheEntry[], s: PruneSelection): CacheEntry[] {
  return entries.filter((e) => {
    if (s.all) return true;
    const age = s.now - e.modifiedMs;
    if (e.kind === "temp") return age > TEMP_GRACE_MS;
    if (e.kind === "invalid" || e.image === "missing") return true;
    return s.olderThanMs !== undefined && age > s.olderThanMs;
  });
}

/** Deletes the entries' files (already gone: fine). */
export async function removeEntryFiles(entries: readonly CacheEntry[]): Promise<void> {
  for (const e of entries) await rm(e.file, { force: true });
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** `45s`, `12m`, `3h 5m`, `2d 4h`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${m % 60 ? ` ${m % 60}m` : ""}`;
  const d = Math.floor(h / 24);
  return `${d}d${h % 24 ? ` ${h % 24}h` : ""}`;
}

export interface CacheListing {
  readonly dir: string;
  /** The engine asked about the images, or null. */
  readonly engine: string | null;
  readonly entries: readonly CacheEntry[];
  readonly totals: { readonly entries: number; readonly bytes: number };
}

export function cacheListing(
  dir: string,
  engine: string | null,
  entries: readonly CacheEntry[],
): CacheListing {
  return {
    dir,
    engine,
    entries,
    totals: { entries: entries.length, bytes: entries.reduce((n, e) => n + e.bytes, 0) },
  };
}

/** The `--json` form: ages in seconds beside the times, for scripts. */
export function listingJson(l: CacheListing, now: number): unknown {
  return {
    dir: l.dir,
    engine: l.engine,
    entries: l.entries.map((e) => ({
      kind: e.kind,
      key: e.key,
      file: e.file,
      bytes: e.bytes,
      modified: new Date(e.modifiedMs).toISOString(),
      ageSeconds: Math.max(0, Math.round((now - e.modifiedMs) / 1000)),
      ref: e.ref ?? null,
      imageId: e.imageId ?? null,
      image: e.image,
    })),
    totals: l.totals,
  };
}

/** Columns padded to their widest cell, two spaces apart; the third (a size) right-aligned. */
export function formatTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) =>
    `${r
      .map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd()}\n`;
  return [head, ...rows].map(line).join("");
}

/** A table of the entries, then the totals. */
export function formatCacheListing(l: CacheListing, now: number): string {
  if (!l.entries.length) return `stage cache ${l.dir}: empty\n`;
  const rows = l.entries.map((e) => [
    e.kind,
    e.key.length > 16 ? `${e.key.slice(0, 16)}…` : e.key,
    formatBytes(e.bytes),
    formatAge(now - e.modifiedMs),
    e.image,
    e.ref ?? "-",
  ]);
  let out = `stage cache ${l.dir}${l.engine ? ` (images checked with ${l.engine})` : " (images not checked: no engine)"}\n`;
  out += formatTable(["KIND", "KEY", "SIZE", "AGE", "IMAGE", "REF"], rows);
  out += `${l.totals.entries} entr${l.totals.entries === 1 ? "y" : "ies"}, ${formatBytes(l.totals.bytes)} on disk`;
  const refs = l.entries.filter((e) => e.ref && e.image !== "missing").length;
  out += refs
    ? `; ${refs} engine image${refs === 1 ? "" : "s"} referenced (their size is the engine's to tell)\n`
    : "\n";
  return out;
}

// ---------------------------------------------------------------------------------------------
// The SBOM files `build` writes for an image only in the engine (`sbomCacheDir`, docs/sbom.md).

export interface SbomFile {
  /** `sbom`: a written SBOM; `temp`: a write's leftover. */
  readonly kind: "sbom" | "temp";
  readonly file: string;
  readonly bytes: number;
  readonly modifiedMs: number;
}

/** The SBOM files in `dir` (none: it does not exist), oldest first. */
export async function listSbomFiles(dir: string): Promise<SbomFile[]> {
  const names = await cacheDirNames(dir);
  const out: SbomFile[] = [];
  for (const name of names) {
    const kind =
      name.startsWith(".") && name.endsWith(".tmp") ? "temp" : name.endsWith(".json") ? "sbom" : undefined;
    if (!kind) continue;
    const file = join(dir, name);
    const st = await stat(file).catch(() => undefined);
    if (st?.isFile()) out.push({ kind, file, bytes: st.size, modifiedMs: st.mtimeMs });
  }
  return out.sort((a, b) => a.modifiedMs - b.modifiedMs || a.file.localeCompare(b.file));
}

/**
 * What `prune` removes of the SBOM files: every one with `all`, those older than `olderThanMs`;
 * by default only temp files older than an hour (an SBOM is never garbage: it is a build's result).
 */
export function selectSbomPrune(files: readonly SbomFile[], s: PruneSelection): SbomFile[] {
  return files.filter((f) => {
    if (s.all) return true;
    const age = s.now - f.modifiedMs;
    if (f.kind === "temp" && age > TEMP_GRACE_MS) return true;
    return s.olderThanMs !== undefined && age > s.olderThanMs;
  });
}

/** The SBOM files as `cache ls` prints them. */
export function formatSbomListing(dir: string, files: readonly SbomFile[], now: number): string {
  if (!files.length) return `SBOM files ${dir}\n  empty\n`;
  const rows = files.map((f) => [
    f.kind,
    basename(f.file),
    formatBytes(f.bytes),
    formatAge(now - f.modifiedMs),
  ]);
  const bytes = files.reduce((n, f) => n + f.bytes, 0);
  return `SBOM files ${dir}\n${formatTable(["KIND", "FILE", "SIZE", "AGE"], rows)}${files.length} file${files.length === 1 ? "" : "s"}, ${formatBytes(bytes)}\n`;
}

// ---------------------------------------------------------------------------------------------
// The engine part: whether each entry's image is still there, and removing it.

/** Each stage entry with `image` set from the engine: present when its ref still names its image. */
export async function checkImages(
  entries: readonly CacheEntry[],
  engine: Engine,
  ctx: Context,
): Promise<CacheEntry[]> {
  const out: CacheEntry[] = [];
  for (const e of entries) {
    if (e.kind !== "stage" || !e.ref) {
      out.push(e);
      continue;
    }
    const id = await engine.imageId(e.ref, ctx);
    out.push({ ...e, image: id !== undefined && sameId(id, e.imageId) ? "present" : "missing" });
  }
  return out;
}

const sameId = (a: string, b: string | undefined) =>
  b !== undefined && a.replace(/^sha256:/, "") === b.replace(/^sha256:/, "");

/** Removes the images of the entries the engine still holds (by ID: every tag of the stage image goes). */
export async function removeEntryImages(
  entries: readonly CacheEntry[],
  engine: Engine,
  ctx: Context,
): Promise<string[]> {
  const ids = [...new Set(entries.filter((e) => e.image === "present" && e.imageId).map((e) => e.imageId!))];
  if (ids.length) await engine.removeImages(ids, ctx);
  return ids;
}
