/**
 * Where an image's files are: a directory (`oci:DIR`) or an uncompressed tar archive
 * (`oci-archive:FILE`, `docker-archive:FILE`). A tar is indexed once by reading its 512-byte
 * headers and seeking over the data, so every file inside can then be read or streamed on its own
 * (a layer in the middle of a 1 GB archive is streamed from its offset, never loaded).
 */
import { createReadStream } from "node:fs";
import { type FileHandle, open, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { SlimwheelError } from "../errors.js";

export interface BlobStore {
  /** The directory or file, for messages. */
  readonly where: string;
  has(path: string): Promise<boolean>;
  size(path: string): Promise<number>;
  /** A whole (small) file: JSON documents. */
  read(path: string): Promise<Buffer>;
  /** The first `n` bytes (fewer when the file is shorter). */
  peek(path: string, n: number): Promise<Buffer>;
  /** The file as a stream. */
  open(path: string): Readable;
}

const MAX_READ = 64 * 1024 * 1024;

/** A document (manifest, config, index) larger than any real one: refused, never allocated. */
function tooLarge(where: string, size: number): SlimwheelError {
  return new SlimwheelError("input", `${where} is ${size} bytes, too large for an image's JSON document`, {
    hint: `manifests, configs and indexes are kilobytes; slimwheel reads at most ${MAX_READ / 1024 / 1024} MiB of one`,
  });
}

const normal = (p: string) => p.replace(/^(\.\/|\/)+/, "").replace(/\/+$/, "");

export function dirStore(dir: string): BlobStore {
  const full = (p: string) => join(dir, normal(p));
  return {
    where: dir,
    async has(p) {
      return stat(full(p)).then(
        (s) => s.isFile(),
        () => false,
      );
    },
    async size(p) {
      return (await stat(full(p))).size;
    },
    async read(p) {
      const s = await stat(full(p));
      if (s.size > MAX_READ) throw tooLarge(`${dir}/${p}`, s.size);
      return readFile(full(p));
    },
    async peek(p, n) {
      const fh = await open(full(p), "r");
      try {
        const buf = Buffer.alloc(n);
        const { bytesRead } = await fh.read(buf, 0, n, 0);
        return buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    },
    open(p) {
      return createReadStream(full(p));
    },
  };
}

interface TarEntry {
  readonly offset: number;
  readonly size: number;
  readonly type: "file" | "symlink" | "link" | "other";
  readonly linkname: string;
}

function octal(buf: Buffer, start: number, len: number): number {
  const field = buf.subarray(start, start + len);
  if ((field[0]! & 0x80) !== 0) {
    // base-256 (GNU) for big numbers
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = field.toString("latin1").replace(/\0.*$/s, "").trim();
  return text === "" ? 0 : Number.parseInt(text, 8);
}

const cstring = (buf: Buffer, start: number, len: number) =>
  buf
    .subarray(start, start + len)
    .toString("utf8")
    .replace(/\0.*$/s, "");

function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space < 0) break;
    const len = Number.parseInt(data.toString("latin1", i, space), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const record = data.toString("utf8", space + 1, i + len - 1);
    const eq = record.indexOf("=");
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    i += len;
  }
  return out;
}

/** Reads every header of an uncompressed tar file, seeking over the data. */
async function indexTar(path: string): Promise<Map<string, TarEntry>> {
  const entries = new Map<string, TarEntry>();
  const fh: FileHandle = await open(path, "r");
  try {
    const total = (await fh.stat()).size;
    const header = Buffer.alloc(512);
    let offset = 0;
    let longName: string | undefined;
    let longLink: string | undefined;
    let pax: Map<string, string> | undefined;
    const readData = async (at: number, size: number) => {
      if (size > MAX_READ) throw new Error(`a tar extension header of ${size} bytes`);
      const b = Buffer.alloc(size);
      await fh.read(b, 0, size, at);
      return b;
    };
    while (offset + 512 <= total) {
      const { bytesRead } = await fh.read(header, 0, 512, offset);
      if (bytesRead < 512) break;
      if (header.every((b) => b === 0)) break;
      const magic = header.toString("latin1", 257, 262);
      let size = octal(header, 124, 12);
      const flag = String.fromCharCode(header[156]!);
      const dataAt = offset + 512;
      const next = dataAt + Math.ceil(size / 512) * 512;
      if (flag === "L" || flag === "K" || flag === "x") {
        // Checked before anything is allocated: a header's size is the file's claim, not a fact.
        if (!Number.isSafeInteger(size) || size < 0 || dataAt + size > total)
          throw new SlimwheelError(
            "input",
            `${path}: a tar extension header at byte ${offset} claims ${Number.isFinite(size) ? `${size} bytes` : "an invalid size"}, past the end of the file (${total} bytes)`,
            { hint: "the archive is corrupt or truncated; export the image again" },
          );
        const data = await readData(dataAt, size);
        if (flag === "L") longName = data.toString("utf8").replace(/\0.*$/s, "");
        else if (flag === "K") longLink = data.toString("utf8").replace(/\0.*$/s, "");
        else pax = paxRecords(data);
        offset = next;
        continue;
      }
      if (flag === "g") {
        offset = next;
        continue;
      }
      let name = cstring(header, 0, 100);
      if (magic === "ustar") {
        const prefix = cstring(header, 345, 155);
        if (prefix) name = `${prefix}/${name}`;
      }
      name = pax?.get("path") ?? longName ?? name;
      const linkname = pax?.get("linkpath") ?? longLink ?? cstring(header, 157, 100);
      if (pax?.has("size")) size = Number(pax.get("size"));
      // A size that is no byte count, or data past the end of the file: not an archive to trust.
      if (!Number.isSafeInteger(size) || size < 0 || dataAt + size > total)
        throw new SlimwheelError(
          "input",
          `${path}: the entry ${JSON.stringify(name.slice(0, 200))} claims ${Number.isFinite(size) ? `${size} bytes` : "an invalid size"}${Number.isSafeInteger(size) && size >= 0 ? `, past the end of the file (${total} bytes)` : ""}`,
          { hint: "the archive is corrupt or truncated; export the image again" },
        );
      const type =
        flag === "0" || flag === "\0" || flag === "7"
          ? "file"
          : flag === "2"
            ? "symlink"
            : flag === "1"
              ? "link"
              : "other";
      entries.set(normal(name), { offset: dataAt, size, type, linkname });
      offset = dataAt + Math.ceil(size / 512) * 512;
      longName = undefined;
      longLink = undefined;
      pax = undefined;
    }
  } finally {
    await fh.close();
  }
  return entries;
}

/**
 * A store over an uncompressed tar file. Throws an input error when the file is not a tar
 * (a gzip-compressed archive gets a hint to decompress it first).
 */
export async function tarStore(path: string): Promise<BlobStore> {
  let entries: Map<string, TarEntry>;
  try {
    const fh = await open(path, "r");
    const head = Buffer.alloc(512);
    try {
      await fh.read(head, 0, 512, 0);
    } finally {
      await fh.close();
    }
    if (head[0] === 0x1f && head[1] === 0x8b)
      throw new SlimwheelError("input", `${path} is gzip-compressed; slimwheel reads uncompressed archives`, {
        hint: `decompress it first: gunzip -c ${path} > image.tar`,
      });
    if (head.toString("latin1", 257, 262) !== "ustar" && !head.every((b) => b === 0))
      throw new SlimwheelError("input", `${path} is not a tar archive`, {
        hint: "give an archive made by `docker save` or `skopeo copy ... oci-archive:FILE`",
      });
    entries = await indexTar(path);
  } catch (e) {
    if (e instanceof SlimwheelError) throw e;
    const code = (e as NodeJS.ErrnoException).code === "ENOENT" ? "not-found" : "input";
    throw new SlimwheelError(code, `reading ${path}: ${(e as Error).message}`, {
      hint: code === "not-found" ? "check the path" : "the archive is corrupt; export the image again",
      cause: e,
    });
  }
  const resolve = (p: string): TarEntry => {
    let name = normal(p);
    for (let hops = 0; hops < 8; hops++) {
      const e = entries.get(name);
      if (!e) break;
      if (e.type === "file") return e;
      if (e.type === "link") {
        name = normal(e.linkname);
        continue;
      }
      if (e.type === "symlink") {
        const base = name.split("/").slice(0, -1);
        for (const part of e.linkname.split("/")) {
          if (part === "..") base.pop();
          else if (part !== "." && part !== "") base.push(part);
        }
        name = e.linkname.startsWith("/") ? normal(e.linkname) : base.join("/");
        continue;
      }
      break;
    }
    throw new SlimwheelError("input", `${path} has no file ${normal(p)}`, {
      hint: "the archive is incomplete; export the image again",
    });
  };
  return {
    where: path,
    async has(p) {
      try {
        resolve(p);
        return true;
      } catch {
        return false;
      }
    },
    async size(p) {
      return resolve(p).size;
    },
    async read(p) {
      const e = resolve(p);
      if (e.size > MAX_READ) throw tooLarge(`${path}: ${p}`, e.size);
      const fh = await open(path, "r");
      try {
        const buf = Buffer.alloc(e.size);
        await fh.read(buf, 0, e.size, e.offset);
        return buf;
      } finally {
        await fh.close();
      }
    },
    async peek(p, n) {
      const e = resolve(p);
      const len = Math.min(n, e.size);
      const fh = await open(path, "r");
      try {
        const buf = Buffer.alloc(len);
        await fh.read(buf, 0, len, e.offset);
        return buf;
      } finally {
        await fh.close();
      }
    },
    open(p) {
      const e = resolve(p);
      if (e.size === 0) return Readable.from([]);
      return createReadStream(path, { start: e.offset, end: e.offset + e.size - 1 });
    },
  };
}
