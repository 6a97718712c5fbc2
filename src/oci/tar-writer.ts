/**
 * Writes a layer as a normalized tar stream (image-spec `layer.md`): the same entries give the same
 * bytes whatever order they come in and whenever the files were touched.
 *
 * - entries sorted by path (bytewise, UTF-8), so every directory comes before what it holds;
 *   directories that are not listed but needed are added (0755, root);
 * - mtimes clamped to `sourceDateEpoch` (an entry without one gets it); no atime or ctime;
 * - uname and gname empty, uid/gid 0 unless given;
 * - ustar headers, with a PAX extended header only when ustar cannot say it: a path or link target
 *   longer than 100 bytes or not ASCII, a size, uid, gid or mtime too large for its octal field;
 * - hard links always point at an entry that comes earlier in the stream.
 *
 * Headers are written here rather than with `tar-stream`'s packer, to control exactly when a PAX
 * header is written and what every byte of the header holds.
 */
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { SlimwheelError } from "../errors.js";

export type LayerEntryType = "file" | "dir" | "symlink" | "hardlink";

export interface LayerEntry {
  /** Path inside the image, `/`-separated; a leading `/` or `./` is dropped. */
  readonly path: string;
  readonly type: LayerEntryType;
  /** Permission bits (07777); default 0644 for files, 0755 for directories, 0777 for symlinks. */
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Seconds since the epoch; clamped to `sourceDateEpoch`. */
  readonly mtime?: number;
  /**
   * A file's content: bytes, or a file on disk, read when the stream gets there (its size taken
   * then, unless given; a file that changes size meanwhile is an error).
   */
  readonly content?: Buffer | { readonly file: string; readonly size?: number };
  /** Target of a symlink (as written) or of a hard link (a path in the layer). */
  readonly linkTarget?: string;
}

export interface TarOptions {
  /** Seconds since the epoch: no entry is newer than this. */
  readonly sourceDateEpoch: number;
}

const BLOCK = 512;
const TYPEFLAG: Record<LayerEntryType | "pax", string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  dir: "5",
  pax: "x",
};

/** `a/b/c` from `/a//b/./c/`; refuses `..` and empty paths. */
export function normalizeLayerPath(path: string): string {
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === ".."))
    throw new SlimwheelError("input", `layer path "${path}" contains ".."`, {
      hint: "paths in a layer are absolute paths of the image, without ..",
    });
  if (parts.length === 0)
    throw new SlimwheelError("input", `layer path "${path}" is empty`, {
      hint: "name a file or directory inside the image",
    });
  return parts.join("/");
}

export interface NormalizedEntry {
  readonly path: string;
  readonly type: LayerEntryType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
  readonly size: number;
  readonly content?: LayerEntry["content"];
  readonly linkTarget?: string;
}

const compareBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** The entries as they will be written: normalized, completed with parent directories, sorted. */
export function normalizeEntries(entries: readonly LayerEntry[], o: TarOptions): NormalizedEntry[] {
  const epoch = Math.max(0, Math.floor(o.sourceDateEpoch));
  const byPath = new Map<string, NormalizedEntry>();
  for (const e of entries) {
    const path = normalizeLayerPath(e.path);
    if (byPath.has(path))
      throw new SlimwheelError("input", `layer path "${path}" is listed twice`, {
        hint: "each path may appear once in a layer",
      });
    if ((e.type === "symlink" || e.type === "hardlink") && !e.linkTarget)
      throw new SlimwheelError("input", `layer ${e.type} "${path}" has no link target`);
    const size =
      e.type !== "file" || e.content === undefined
        ? 0
        : Buffer.isBuffer(e.content)
          ? e.content.length
          : (e.content.size ?? -1);
    const mode = e.mode ?? (e.type === "dir" ? 0o755 : e.type === "symlink" ? 0o777 : 0o644);
    byPath.set(path, {
      path,
      type: e.type,
      mode: mode & 0o7777,
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: Math.min(Math.max(0, Math.floor(e.mtime ?? epoch)), epoch),
      size,
      content: e.type === "file" ? e.content : undefined,
      linkTarget:
        e.type === "hardlink"
          ? normalizeLayerPath(e.linkTarget!)
          : e.type === "symlink"
            ? e.linkTarget
            : undefined,
    });
  }
  for (const path of [...byPath.keys()]) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      const p = byPath.get(parent);
      if (!p)
        byPath.set(parent, { path: parent, type: "dir", mode: 0o755, uid: 0, gid: 0, mtime: epoch, size: 0 });
      else if (p.type !== "dir")
        throw new SlimwheelError("input", `layer path "${path}" is inside "${parent}", which is a ${p.type}`);
    }
  }
  const sorted = [...byPath.values()].sort((a, b) => compareBytes(a.path, b.path));
  return orderHardlinks(sorted, byPath);
}

/**
 * A hard link must follow its target in the stream. Links form groups around one file; the group's
 * first path in sorted order holds the content and the others link to it.
 */
function orderHardlinks(sorted: NormalizedEntry[], byPath: Map<string, NormalizedEntry>): NormalizedEntry[] {
  const rootOf = (n: NormalizedEntry): NormalizedEntry | undefined => {
    const seen = new Set<string>();
    let cur: NormalizedEntry | undefined = n;
    while (cur?.type === "hardlink") {
      if (seen.has(cur.path)) throw new SlimwheelError("input", `hard link "${n.path}" is part of a cycle`);
      seen.add(cur.path);
      cur = byPath.get(cur.linkTarget!);
    }
    return cur;
  };
  const holder = new Map<string, string>(); // content file path → the path that carries it
  return sorted.map((n) => {
    if (n.type === "dir" || n.type === "symlink") return n;
    const root = n.type === "file" ? n : rootOf(n);
    if (!root) return n; // a link to a file of a lower layer: kept as is
    if (root.type !== "file")
      throw new SlimwheelError("input", `hard link "${n.path}" points at a ${root.type}`, {
        hint: "hard links may only point at regular files",
      });
    const first = holder.get(root.path);
    if (first !== undefined)
      return { ...n, type: "hardlink", size: 0, content: undefined, linkTarget: first };
    holder.set(root.path, n.path);
    return n.type === "file" ? n : { ...root, path: n.path };
  });
}

const isAscii = (s: string) => /^[\x20-\x7e]*$/.test(s);

function writeString(buf: Buffer, offset: number, length: number, s: string): void {
  buf.write(s, offset, length, "utf8");
}

/** An octal numeric field: `length - 1` digits and a NUL. Returns false when it does not fit. */
function writeOctal(buf: Buffer, offset: number, length: number, n: number): boolean {
  const s = n.toString(8);
  if (n < 0 || s.length > length - 1) return false;
  buf.write(`${s.padStart(length - 1, "0")}\0`, offset, length, "ascii");
  return true;
}

/** A PAX record: "<len> key=value\n", where len counts the whole record. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let len = bodyLen + String(bodyLen).length;
  if (String(len).length + bodyLen !== len) len = bodyLen + String(len).length;
  return `${len}${body}`;
}

interface HeaderFields {
  readonly name: string;
  readonly type: LayerEntryType | "pax";
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  readonly linkname: string;
}

/** A ustar header; returns the PAX records needed for what did not fit. */
function ustarHeader(h: HeaderFields): { header: Buffer; pax: string[] } {
  const b = Buffer.alloc(BLOCK);
  const pax: string[] = [];
  const nameFits = Buffer.byteLength(h.name) <= 100 && isAscii(h.name);
  if (!nameFits) pax.push(paxRecord("path", h.name));
  writeString(b, 0, 100, nameFits ? h.name : asciiStandIn(h.name, 100));
  writeOctal(b, 100, 8, h.mode);
  if (!writeOctal(b, 108, 8, h.uid)) {
    pax.push(paxRecord("uid", String(h.uid)));
    writeOctal(b, 108, 8, 0);
  }
  if (!writeOctal(b, 116, 8, h.gid)) {
    pax.push(paxRecord("gid", String(h.gid)));
    writeOctal(b, 116, 8, 0);
  }
  if (!writeOctal(b, 124, 12, h.size)) {
    pax.push(paxRecord("size", String(h.size)));
    writeOctal(b, 124, 12, 0);
  }
  if (!writeOctal(b, 136, 12, h.mtime)) {
    pax.push(paxRecord("mtime", String(h.mtime)));
    writeOctal(b, 136, 12, 0);
  }
  b.write(TYPEFLAG[h.type], 156, 1, "ascii");
  const linkFits = Buffer.byteLength(h.linkname) <= 100 && isAscii(h.linkname);
  if (!linkFits) pax.push(paxRecord("linkpath", h.linkname));
  writeString(b, 157, 100, linkFits ? h.linkname : asciiStandIn(h.linkname, 100));
  b.write("ustar\u000000", 257, 8, "ascii");
  // uname, gname: empty. devmajor, devminor: zero, as Go's archive/tar writes them.
  writeOctal(b, 329, 8, 0);
  writeOctal(b, 337, 8, 0);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
  return { header: b, pax };
}

/** What a ustar field holds when the real value is in the PAX header: readable, ASCII, short. */
function asciiStandIn(s: string, max: number): string {
  const ascii = s.replace(/[^\x20-\x7e]/g, "_");
  return ascii.length <= max ? ascii : ascii.slice(ascii.length - max);
}

const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

/** The header blocks of one entry: a PAX header (and its records) first when needed. */
export function entryHeader(n: NormalizedEntry): Buffer {
  const name = n.type === "dir" ? `${n.path}/` : n.path;
  const { header, pax } = ustarHeader({
    name,
    type: n.type,
    mode: n.mode,
    uid: n.uid,
    gid: n.gid,
    size: n.size,
    mtime: n.mtime,
    linkname: n.linkTarget ?? "",
  });
  if (pax.length === 0) return header;
  const records = Buffer.from(pax.sort().join(""), "utf8");
  const paxName = asciiStandIn(`PaxHeaders/${n.path.split("/").at(-1)}`, 100);
  const { header: paxHeader } = ustarHeader({
    name: paxName,
    type: "pax",
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: records.length,
    mtime: n.mtime,
    linkname: "",
  });
  return Buffer.concat([paxHeader, records, padding(records.length), header]);
}

async function* tarChunks(entries: NormalizedEntry[]): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    let n = entry;
    if (n.size < 0 && n.content && !Buffer.isBuffer(n.content)) {
      const file = n.content.file;
      const st = await stat(file).catch((e: unknown) => {
        throw new SlimwheelError(
          "not-found",
          `${file}, the content of layer path "${n.path}": ${(e as Error).message}`,
          {
            cause: e,
          },
        );
      });
      n = { ...n, size: st.size, content: { file, size: st.size } };
    }
    yield entryHeader(n);
    if (n.type !== "file" || n.size === 0 || n.content === undefined) continue;
    if (Buffer.isBuffer(n.content)) yield n.content;
    else {
      let read = 0;
      for await (const chunk of createReadStream(n.content.file)) {
        const c = chunk as Buffer;
        read += c.length;
        if (read > n.size) break;
        yield c;
      }
      if (read !== n.size)
        throw new SlimwheelError("io", `${n.content.file} changed size while being added to a layer`, {
          hint: `expected ${n.size} bytes, read ${read}; do not modify files while the image is written`,
        });
    }
    yield padding(n.size);
  }
  yield Buffer.alloc(2 * BLOCK);
}

/** A normalized tar stream of `entries` (see the module comment). */
export function layerTar(entries: readonly LayerEntry[], o: TarOptions): Readable {
  return Readable.from(tarChunks(normalizeEntries(entries, o)), { objectMode: false });
}

export interface DirectoryLayerOptions extends TarOptions {
  /** Where the directory's content goes in the image (e.g. `app`); default the root. */
  readonly prefix?: string;
  /** Owner of every entry (default 0, root). */
  readonly uid?: number;
  readonly gid?: number;
}

/**
 * The entries of a directory tree, read with lstat: files, directories, symlinks (their target
 * kept as is) and hard links (files sharing an inode). Sockets, FIFOs and devices are refused.
 */
export async function entriesFromDirectory(dir: string, o: DirectoryLayerOptions): Promise<LayerEntry[]> {
  const prefix = o.prefix ? normalizeLayerPath(o.prefix) : "";
  const out: LayerEntry[] = [];
  const inodes = new Map<string, string>();
  const owner = { uid: o.uid ?? 0, gid: o.gid ?? 0 };
  const walk = async (abs: string, rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(abs);
    } catch (e) {
      throw new SlimwheelError("io", `reading directory ${abs}: ${(e as Error).message}`, { cause: e });
    }
    for (const name of names.sort()) {
      const file = join(abs, name);
      const path = rel ? `${rel}/${name}` : name;
      const st = await lstat(file);
      const common = { path, mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000), ...owner };
      if (st.isDirectory()) {
        out.push({ ...common, type: "dir" });
        await walk(file, path);
      } else if (st.isSymbolicLink()) {
        out.push({ ...common, type: "symlink", linkTarget: await readlink(file) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? inodes.get(key) : undefined;
        if (first !== undefined) out.push({ ...common, type: "hardlink", linkTarget: first });
        else {
          if (st.nlink > 1) inodes.set(key, path);
          out.push({ ...common, type: "file", content: { file, size: st.size } });
        }
      } else {
        throw new SlimwheelError("input", `${file} is a socket, FIFO or device: it cannot go in a layer`, {
          hint: "remove it from the directory, or leave it out of the image",
        });
      }
    }
  };
  if (prefix) {
    const st = await lstat(dir).catch((e: unknown) => {
      throw new SlimwheelError("not-found", `${dir}: ${(e as Error).message}`, { cause: e });
    });
    out.push({
      path: prefix,
      type: "dir",
      mode: st.mode & 0o7777,
      mtime: Math.floor(st.mtimeMs / 1000),
      ...owner,
    });
  }
  await walk(dir, prefix);
  return out;
}

/** A normalized tar stream of a directory tree (see `entriesFromDirectory`). */
export async function layerFromDirectory(dir: string, o: DirectoryLayerOptions): Promise<Readable> {
  return layerTar(await entriesFromDirectory(dir, o), o);
}
