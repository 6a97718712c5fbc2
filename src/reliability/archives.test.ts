/**
 * Hostile archives: wheels (the ELF scan, src/sysdeps/artifacts.ts) and image layers
 * (src/oci/layer.ts). Decompression bombs are refused with their ratio, entries leaving the root
 * with their name; the bombs are made here, in memory, by repetition (nothing large is committed).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { crc32, deflateRawSync, gzipSync } from "node:zlib";
import { pack } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeLayer, LAYER_BOMB_BYTES } from "../oci/layer.js";
import { BOMB_BYTES, scanArtifacts } from "../sysdeps/artifacts.js";

interface ZipEntry {
  readonly name: string;
  readonly data: Buffer;
  /** Unix mode (e.g. 0o120777 for a symlink). */
  readonly mode?: number;
  /** The uncompressed size written in the headers (default: the real one). */
  readonly declaredSize?: number;
}

/** A zip archive, deflated, written field by field (APPNOTE 4.3.7, 4.3.12, 4.3.16). */
function zip(entries: readonly ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, "utf8");
    const body = deflateRawSync(e.data);
    const crc = crc32(e.data);
    const size = e.declaredSize ?? e.data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix: external attributes carry the mode
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((e.mode ?? 0o100644) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

let base: string;
let n = 0;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "slimwheel-archives-"));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Scans a directory holding one wheel made of `entries`. */
async function scanWheel(entries: readonly ZipEntry[]) {
  const dir = join(base, `w${n++}`);
  await mkdir(dir);
  await writeFile(join(dir, "pkg-1.0-cp311-cp311-linux_x86_64.whl"), zip(entries));
  return scanArtifacts(dir);
}

const LIB = "pkg/_native.cpython-311-x86_64-linux-gnu.so";
const ok = { name: "pkg/__init__.py", data: Buffer.from("x = 1\n") };

describe("hostile wheels", () => {
  it("an ordinary wheel scans (a .so that is not ELF is skipped)", async () => {
    const scan = await scanWheel([ok, { name: LIB, data: Buffer.from("not an ELF") }]);
    expect(scan.wheels).toHaveLength(1);
    expect(scan.extensions).toEqual([]);
  });

  it("a zip bomb (a library inflating 1000:1 past the limit) is refused with its name and ratio", async () => {
    const data = Buffer.alloc(BOMB_BYTES + 16 * 1024 * 1024); // zeros: ≈ 1000:1
    await expect(scanWheel([ok, { name: LIB, data }])).rejects.toMatchObject({
      code: "input",
      message: expect.stringMatching(
        new RegExp(
          `entry "${LIB}" inflates ${data.length} bytes from \\d+ \\(ratio \\d+:1, over 100:1.*decompression bomb`,
        ),
      ),
    });
    // Any entry, not only libraries.
    await expect(scanWheel([{ name: "pkg/data.bin", data }])).rejects.toThrow(
      /"pkg\/data\.bin" inflates .*ratio/,
    );
  });

  it("a bomb whose header lies about its size is refused by the bytes actually inflated", async () => {
    const data = Buffer.alloc(BOMB_BYTES + 16 * 1024 * 1024);
    await expect(scanWheel([{ name: LIB, data, declaredSize: 1000 }])).rejects.toMatchObject({
      code: "input",
    });
  });

  it("entries with .., an absolute path, a backslash or a drive are refused with their name", async () => {
    for (const name of [
      "../evil.so",
      "pkg/../../evil.py",
      "/etc/evil.so",
      "pkg\\..\\..\\evil.so",
      "C:/evil.so",
    ]) {
      // Refused by slimwheel's check or, before it, by the zip reader's own (yauzl): both name the entry.
      const err = await scanWheel([ok, { name, data: Buffer.from("x") }]).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "input" });
      expect((err as Error).message).toMatch(
        /unsafe path|invalid relative path|absolute path|invalid characters/,
      );
      // (yauzl names a backslashed entry with its backslashes turned to slashes)
      expect((err as Error).message).toContain(name.replaceAll("\\", "/"));
    }
  });

  it("symlinks leaving the wheel are refused with their name and target; one inside is fine", async () => {
    for (const target of ["/etc/passwd", "../../../etc/passwd", "../.."]) {
      await expect(
        scanWheel([ok, { name: "pkg/link", data: Buffer.from(target), mode: 0o120777 }]),
      ).rejects.toThrow(`symlink "pkg/link" points outside the wheel (to ${target})`);
    }
    const scan = await scanWheel([
      ok,
      { name: "pkg/link", data: Buffer.from("__init__.py"), mode: 0o120777 },
    ]);
    expect(scan.wheels).toHaveLength(1);
  });
});

/** A gzip layer of one file of `size` zeros, made of repeated gzip members (no big buffer). */
function* bombLayer(size: number): Generator<Buffer> {
  // A ustar header (POSIX.1-1988): name, mode, ids, size and mtime in octal, then the checksum.
  const header = Buffer.alloc(512);
  header.write("zeros", 0);
  header.write("0000644\0", 100);
  header.write("0000000\0", 108);
  header.write("0000000\0", 116);
  header.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  header.write("00000000000\0", 136);
  header.write("        ", 148);
  header.write("0", 156);
  header.write("ustar\0" + "00", 257);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  yield gzipSync(header);
  const block = 16 * 1024 * 1024;
  const member = gzipSync(Buffer.alloc(block), { level: 9 });
  for (let done = 0; done < size; done += block) {
    yield done + block <= size ? member : gzipSync(Buffer.alloc(size - done));
  }
  yield gzipSync(Buffer.alloc(1024)); // end of archive
}

describe("hostile layers", () => {
  it("a gzip bomb layer is refused with its ratio, while reading (bounded memory)", async () => {
    const size = LAYER_BOMB_BYTES + 64 * 1024 * 1024;
    const before = process.memoryUsage().rss;
    await expect(analyzeLayer(Readable.from(bombLayer(size)), true, "sha256:bomb")).rejects.toMatchObject({
      code: "input",
      message: expect.stringMatching(
        /^layer sha256:bomb: it inflates to more than \d+ bytes from \d+ \(ratio \d+:1, over 100:1/,
      ),
    });
    expect(process.memoryUsage().rss - before).toBeLessThan(512 * 1024 * 1024);
  }, 120_000);

  it("a layer entry climbing out with .. is refused with its name", async () => {
    for (const name of ["../etc/cron.d/x", "usr/../../etc/passwd"]) {
      const p = pack();
      p.entry({ name: "ok.txt" }, "x");
      p.entry({ name }, "evil");
      p.finalize();
      const chunks: Buffer[] = [];
      for await (const c of p) chunks.push(c as Buffer);
      await expect(analyzeLayer(Readable.from(gzipSync(Buffer.concat(chunks))), true, "t")).rejects.toThrow(
        `entry "${name}" leaves the root (..)`,
      );
    }
  });
});
