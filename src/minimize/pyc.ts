/**
 * Timestamp-based .pyc files record their source's mtime and size (PEP 552: magic, flags, mtime,
 * size — 16 bytes). A layer clamps every mtime to its epoch, so without care every .pyc in the
 * image no longer matches its source and Python recompiles each module at every start (it cannot
 * write the result as the app user). `retimePyc` moves a copied .pyc's recorded mtime to the
 * clamped one when — and only when — the .pyc matched the source before (flags 0, same mtime, same
 * size): the source bytes are unchanged, so the .pyc stays valid, and the result is deterministic.
 */
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
