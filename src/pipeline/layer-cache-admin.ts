/**
 * `slimwheel cache ls|prune` for the layer cache (./layer-cache.ts): its entries with the size of
 * their trees, the shared blob store, and what is garbage — unreadable entries, a write's leftover,
 * a tree or a blob no entry uses (older than an hour: a build in progress writes them before its entry).
 */
import type { Stats } from "node:fs";
import { lstat, readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { SlimwheelError } from "../errors.js";
import type { PruneSelection } from "./cache-admin.js";
import { closureFile, LAYER_CACHE_FORMAT, type LayerCacheDirs, legacyPycacheDir } from "./layer-cache.js";

const GRACE_MS = 3_600_000;

export interface LayerCacheItem {
  /** `layers`: an entry; `invalid`: unreadable or of another format; `temp`: a write's leftover; `tree`/`blob`: used by no entry. */
  readonly kind: "layers" | "invalid" | "temp" | "tree" | "blob";
  readonly key: string;
  /** Files to remove with it. */
  readonly paths: readonly string[];
  /** Bytes on disk: the entry file and its tree (an entry), or the item. */
  readonly bytes: number;
  readonly modifiedMs: number;
  /** An entry's blobs (shared with other entries: counted once in the totals). */
  readonly blobs?: readonly string[];
  readonly fastPath?: boolean;
}

export interface LayerCacheListing {
  readonly root: string;
  readonly items: readonly LayerCacheItem[];
  readonly store: { readonly blobs: number; readonly bytes: number };
  readonly totals: { readonly entries: number; readonly bytes: number };
}

async function names(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new SlimwheelError("io", `reading the cache directory ${dir}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** Bytes of a tree on disk (files' sizes, a hard-linked file once in `seen`; symlinks and directories count nothing). */
export async function treeBytes(dir: string, seen: Set<string> = new Set()): Promise<number> {
  let n = 0;
  const st = await lstat(dir).catch(() => undefined);
  if (!st) return 0;
  // A file with other links (the bytecode cache links the tree's .pyc files) counts once in `seen`.
  const once = (f: Stats) => {
    if (f.nlink < 2) return f.size;
    const id = `${f.dev}:${f.ino}`;
    if (seen.has(id)) return 0;
    seen.add(id);
    return f.size;
  };
  if (!st.isDirectory()) return st.isFile() ? once(st) : 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += await treeBytes(p, seen);
    else if (e.isFile()) n += once(await lstat(p));
  }
  return n;
}

/** What `cache ls|prune` reads of an entry's JSON; undefined when unreadable. */
interface EntryJson {
  readonly format?: number;
  readonly lower?: { readonly blob?: { readonly digest?: string } }[];
  readonly fastPath?: { readonly ok?: boolean };
  readonly closureLists?: string;
}

async function entryJson(file: string): Promise<EntryJson | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as EntryJson;
  } catch {
    return undefined;
  }
}

export async function listLayerCache(dirs: LayerCacheDirs): Promise<LayerCacheListing> {
  const items: LayerCacheItem[] = [];
  const used = new Set<string>();
  const keys = new Set<string>();
  // Files with several links (a tree's bytecode cache links its .pyc files) count once in all.
  const linked = new Set<string>();
  for (const name of await names(dirs.entries)) {
    const file = join(dirs.entries, name);
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) continue;
    const temp = /^\.([0-9a-f]+)\..*\.tmp$/.exec(name);
    if (temp) {
      items.push({ kind: "temp", key: temp[1]!, paths: [file], bytes: st.size, modifiedMs: st.mtimeMs });
      continue;
    }
    // An entry's closure lists (`KEY.DIGEST.closure`) are listed with it; others (their entry
    // gone, or written since with other lists) as garbage.
    const lists = /^([0-9a-f]+)\.([0-9a-f]{16})\.closure$/.exec(name);
    if (lists) {
      if ((await entryJson(join(dirs.entries, `${lists[1]}.json`)))?.closureLists !== lists[2])
        items.push({
          kind: "invalid",
          key: lists[1]!,
          paths: [file],
          bytes: st.size,
          modifiedMs: st.mtimeMs,
        });
      continue;
    }
    if (!name.endsWith(".json")) continue;
    const key = name.slice(0, -5);
    const json = await entryJson(file);
    const listsFile =
      typeof json?.closureLists === "string" ? closureFile(dirs, key, json.closureLists) : undefined;
    const listsBytes = listsFile ? ((await stat(listsFile).catch(() => undefined))?.size ?? 0) : 0;
    const tree = join(dirs.rootfs, key);
    // The bytecode cache is in the tree; an older one beside it goes with the entry too.
    const pycache = legacyPycacheDir(dirs, key);
    if (json?.format === LAYER_CACHE_FORMAT && Array.isArray(json.lower)) {
      keys.add(key);
      const blobs = json.lower.map((l) => l.blob?.digest).filter((d): d is string => typeof d === "string");
      for (const b of blobs) used.add(b);
      items.push({
        kind: "layers",
        key,
        paths: [file, ...(listsFile ? [listsFile] : []), tree, `${tree}.layers`, pycache],
        bytes: st.size + listsBytes + (await treeBytes(tree, linked)) + (await treeBytes(pycache, linked)),
        modifiedMs: st.mtimeMs,
        blobs,
        fastPath: json.fastPath?.ok === true,
      });
    } else
      items.push({
        kind: "invalid",
        key,
        paths: [file, ...(listsFile ? [listsFile] : []), tree, `${tree}.layers`, pycache],
        bytes: st.size + listsBytes,
        modifiedMs: st.mtimeMs,
      });
  }
  for (const name of await names(dirs.rootfs)) {
    const key = name.replace(/\.tmp-\d+$/, "").replace(/\.(pycache|layers)$/, "");
    // An entry's tree, its stamp and its bytecode cache are listed with it (above).
    const owned = name === key || name === `${key}.pycache` || name === `${key}.layers`;
    if (owned && (keys.has(key) || items.some((i) => i.kind === "invalid" && i.key === key))) continue;
    const p = join(dirs.rootfs, name);
    const st = await lstat(p).catch(() => undefined);
    if (st)
      items.push({
        kind: "tree",
        key,
        paths: [p],
        bytes: await treeBytes(p, linked),
        modifiedMs: st.mtimeMs,
      });
  }
  let storeBytes = 0;
  let storeBlobs = 0;
  const sha = join(dirs.store, "sha256");
  for (const name of await names(sha)) {
    const p = join(sha, name);
    const st = await stat(p).catch(() => undefined);
    if (!st?.isFile()) continue;
    storeBlobs++;
    storeBytes += st.size;
    if (!used.has(`sha256:${name}`))
      items.push({ kind: "blob", key: `sha256:${name}`, paths: [p], bytes: st.size, modifiedMs: st.mtimeMs });
  }
  for (const name of await names(dirs.store)) {
    if (!name.startsWith(".tmp-")) continue;
    const p = join(dirs.store, name);
    const st = await stat(p).catch(() => undefined);
    if (st) items.push({ kind: "temp", key: name, paths: [p], bytes: st.size, modifiedMs: st.mtimeMs });
  }
  const entries = items.filter((i) => i.kind === "layers");
  const notBlobs = items.filter((i) => i.kind !== "blob").reduce((n, i) => n + i.bytes, 0);
  return {
    root: dirs.root,
    items,
    store: { blobs: storeBlobs, bytes: storeBytes },
    totals: { entries: entries.length, bytes: notBlobs + storeBytes },
  };
}

/**
 * What `prune` removes from the layer cache: entries as the stage cache's selection says (all,
 * or older than), always the garbage older than an hour; then every blob no kept entry uses.
 */
export function selectLayerPrune(listing: LayerCacheListing, s: PruneSelection): LayerCacheItem[] {
  const chosen = listing.items.filter((i) => {
    const age = s.now - i.modifiedMs;
    if (i.kind === "layers") return s.all || (s.olderThanMs !== undefined && age > s.olderThanMs);
    if (i.kind === "blob") return false; // decided below, from the entries that stay
    return s.all || age > GRACE_MS;
  });
  const kept = listing.items.filter((i) => i.kind === "layers" && !chosen.includes(i));
  const stillUsed = new Set(kept.flatMap((i) => i.blobs ?? []));
  const inUse = new Set(listing.items.flatMap((i) => (i.kind === "layers" ? (i.blobs ?? []) : [])));
  for (const i of listing.items)
    if (i.kind === "blob" && (s.all || s.now - i.modifiedMs > GRACE_MS)) chosen.push(i);
  // Blobs of the removed entries that no kept entry uses.
  for (const digest of inUse) {
    if (stillUsed.has(digest)) continue;
    const hex = digest.slice(7);
    chosen.push({
      kind: "blob",
      key: digest,
      paths: [join(listing.root, "blobs", "sha256", hex)],
      bytes: 0,
      modifiedMs: s.now,
    });
  }
  return chosen;
}

export async function removeLayerItems(items: readonly LayerCacheItem[]): Promise<number> {
  let freed = 0;
  for (const i of items) {
    for (const p of i.paths) {
      if (i.kind === "blob") freed += (await stat(p).catch(() => undefined))?.size ?? 0;
      await rm(p, { recursive: true, force: true });
    }
    if (i.kind !== "blob") freed += i.bytes;
  }
  return freed;
}
