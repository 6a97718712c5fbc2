/**
 * Timestamp-based .pyc files record their source's mtime and size (PEP 552: magic, flags, mtime,
 * size — 16 bytes). A layer clamps every mtime to its epoch, so without care every .pyc in the
 * image no longer matches its source and Python recompiles each module at every start (it cannot
 * write the result as the app user). `retimePyc` moves a copied .pyc's recorded mtime to the
 * clamped one when — and only when — the .pyc matched the source before (flags 0, same mtime, same
 * size): the source bytes are unchanged, so the .pyc stays valid, and the result is deterministic.
 */
import {
  chmodSync,
  closeSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** `pkg/__pycache__/mod.cpython-311.opt-1.pyc` → `pkg/mod.py`; undefined for other paths. */
export function pycSource(path: string): string | undefined {
  const dir = dirname(path);
  if (basename(dir) !== "__pycache__") return undefined;
  const m = /^([^.]+)\.[\w-]+?(?:\.opt-\d+)?\.pyc$/.exec(basename(path));
  return m ? join(dirname(dir), `${m[1]}.py`) : undefined;
}

export interface PycSource {
  readonly mtimeSeconds: number;
  readonly size: number;
}

/**
 * How Python's import system judges a cached .pyc against its source (importlib's
 * `_validate_timestamp_pyc`): `valid` when timestamp-based and the recorded mtime and size are the
 * source's, `stale` when timestamp-based and they are not (Python ignores it and recompiles the
 * source at every import — it cannot write the result as the app user), `other` for hash-based
 * .pyc files (independent of mtimes) and headers too short to read.
 */
export function pycState(header: Buffer, source: PycSource): "valid" | "stale" | "other" {
  if (header.length < 16) return "other";
  if (header.readUInt32LE(4) !== 0) return "other"; // hash-based: independent of mtimes
  const same =
    header.readUInt32LE(8) === (Math.floor(source.mtimeSeconds) & 0xffffffff) >>> 0 &&
    header.readUInt32LE(12) === (source.size & 0xffffffff) >>> 0;
  return same ? "valid" : "stale";
}

/** The 16-byte header with `mtime` replaced, or undefined when it does not match the source. */
export function retimedHeader(header: Buffer, source: PycSource, mtime: number): Buffer | undefined {
  if (pycState(header, source) !== "valid") return undefined;
  const out = Buffer.from(header);
  out.writeUInt32LE((Math.floor(mtime) & 0xffffffff) >>> 0, 8);
  return out;
}

/** Rewrites the header of the .pyc at `file` (a copy) when it matched `source`; returns whether it did. */
export async function retimePyc(file: string, source: PycSource, mtime: number): Promise<boolean> {
  const fh = await open(file, "r+");
  try {
    const header = Buffer.alloc(16);
    const { bytesRead } = await fh.read(header, 0, 16, 0);
    const next = retimedHeader(header.subarray(0, bytesRead), source, mtime);
    if (!next) return false;
    await fh.write(next, 8, 4, 8);
    return true;
  } finally {
    await fh.close();
  }
}

/**
 * Where the proofs' bytecode cache is in a layer cache's tree (PYTHONPYCACHEPREFIX): a directory of
 * the tree itself, never of a layer, so it is replaced with the tree, in one rename.
 */
export const PYCACHE_PREFIX = "/.slimwheel-pycache";

/** The tree's directories that are not the image's own files: mount points of a run. */
const RUN_MOUNTS = new Set(["app", "dev", "proc", "tmp", "sys"]);

/**
 * Seeds `cache`, a bytecode cache in PYTHONPYCACHEPREFIX's layout (`/usr/lib/python3.11/json/
 * __pycache__/decoder.cpython-311.pyc` is `CACHE/usr/lib/python3.11/json/decoder.cpython-311.pyc`),
 * with hard links to the tree's own .pyc files that Python would use: timestamp-based ones that
 * match their source in the tree, and hash-based ones that Python checks against their source.
 * Unchecked hash-based ones (whose source may be patched over), stale ones, those whose source is
 * a link (its target is read on this host, not in the image) and files without a .pyc's magic are
 * left out: Python compiles those and caches its own. Its directories are mode 1777 (a run's user
 * adds its own bytecode there); Python replaces a cached file with a new one (a rename), never
 * writes into one, so the tree's files stay as they are. A seeded file Python rejects (a source
 * patched over it) is compiled at each import, never replaced (the link is root's, in a sticky
 * directory). Mount points of a run (/app, /dev, /proc, /tmp) and the tree's hidden top-level
 * directories (the cache itself) are skipped. Returns the number of files linked.
 */
export async function seedPycachePrefix(tree: string, cache: string): Promise<number> {
  // Synchronous calls: thousands of small ones (a Django image has ~10,000 entries), where each
  // promise round trip cost more than the call itself (a Django tree: 0.68 s against 0.15 s).
  const made = new Set<string>();
  const dir = (rel: string): void => {
    if (made.has(rel)) return;
    if (rel) dir(dirname(rel) === "." ? "" : dirname(rel));
    const at = rel ? join(cache, rel) : cache;
    try {
      mkdirSync(at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    chmodSync(at, 0o1777);
    made.add(rel);
  };
  const header = Buffer.alloc(16);
  const usable = (file: string, source: string): boolean => {
    // A source that is a link is left to Python (its target is the image's, not this host's).
    const st = lstatSync(source, { throwIfNoEntry: false });
    if (!st?.isFile()) return false;
    const fd = openSync(file, "r");
    let n: number;
    try {
      n = readSync(fd, header, 0, 16, 0);
    } finally {
      closeSync(fd);
    }
    const h = header.subarray(0, n);
    if (h.length < 4 || h.readUInt16LE(2) !== 0x0a0d) return false; // not a .pyc's magic
    if (h.length === 16 && h.readUInt32LE(4) === 3) return true; // checked hash-based
    return pycState(h, { mtimeSeconds: st.mtimeMs / 1000, size: st.size }) === "valid";
  };
  let linked = 0;
  const seed = (rel: string, pycache: string): void => {
    for (const e of readdirSync(join(tree, pycache), { withFileTypes: true })) {
      if (!e.isFile() || !e.name.endsWith(".pyc")) continue;
      const file = join(tree, pycache, e.name);
      const source = pycSource(join(pycache, e.name));
      if (!source || !usable(file, join(tree, source))) continue;
      dir(rel);
      try {
        linkSync(file, join(cache, rel, e.name));
        linked++;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
    }
  };
  let dirs = 0;
  const walk = async (rel: string): Promise<void> => {
    // A large tree (tens of thousands of files) leaves the event loop free now and then.
    if (++dirs % 256 === 0) await new Promise((r) => setImmediate(r));
    for (const e of readdirSync(rel ? join(tree, rel) : tree, { withFileTypes: true })) {
      // Dirent types come from the directory (lstat): a link to a directory is not followed.
      if (!e.isDirectory() || (!rel && (RUN_MOUNTS.has(e.name) || e.name.startsWith(".")))) continue;
      const sub = rel ? `${rel}/${e.name}` : e.name;
      if (e.name === "__pycache__") seed(rel, sub);
      else await walk(sub);
    }
  };
  await walk("");
  return linked;
}
