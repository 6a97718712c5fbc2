import { spawnSync } from "node:child_process";
import { link, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { extract, type Header as Headers } from "tar-stream";
import { afterAll, describe, expect, it } from "vitest";
import { entryHeader, type LayerEntry, layerFromDirectory, layerTar } from "./tar-writer.js";

async function bytes(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Every entry as tar-stream (an independent reader, which checks header checksums) sees it. */
async function list(tar: Buffer): Promise<(Headers & { body: string })[]> {
  const out: (Headers & { body: string })[] = [];
  const x = extract();
  x.on("entry", (h, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: unknown) => chunks.push(c as Buffer));
    stream.on("end", () => {
      out.push({ ...h, body: Buffer.concat(chunks).toString("utf8") });
      next();
    });
  });
  const done = new Promise<void>((resolve, reject) => {
    x.on("finish", resolve);
    x.on("error", reject);
  });
  Readable.from([tar]).pipe(x);
  await done;
  return out;
}

/** Type flags of the raw headers, in order (to see PAX headers, which readers hide). */
function rawTypeflags(tar: Buffer): string[] {
  const flags: string[] = [];
  let off = 0;
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    flags.push(String.fromCharCode(h[156]!));
    const size = Number.parseInt(h.toString("ascii", 124, 135), 8);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return flags;
}

const EPOCH = 1_700_000_000;
const tmpDirs: string[] = [];
afterAll(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

describe("layerTar", () => {
  const entries: LayerEntry[] = [
    { path: "/app/main.py", type: "file", content: Buffer.from("print('hi')\n"), mtime: EPOCH + 500 },
    { path: "usr/bin/python", type: "symlink", linkTarget: "python3.12", mtime: EPOCH + 9 },
    { path: "app", type: "dir", mode: 0o750, uid: 1000, gid: 1000, mtime: EPOCH + 1 },
    { path: "app/data/x.bin", type: "file", content: Buffer.alloc(700, 7), mode: 0o600 },
  ];

  it("gives the same bytes for the same entries in any order and with any later mtimes", async () => {
    const a = await bytes(layerTar(entries, { sourceDateEpoch: EPOCH }));
    const shuffled = [entries[3]!, entries[1]!, entries[0]!, entries[2]!].map((e) => ({
      ...e,
      mtime: EPOCH + 123_456,
    }));
    const b = await bytes(layerTar(shuffled, { sourceDateEpoch: EPOCH }));
    expect(b.equals(a)).toBe(true);
    const c = await bytes(layerTar(entries, { sourceDateEpoch: EPOCH + 1 }));
    expect(c.equals(a)).toBe(false); // the epoch does matter
  });

  it("sorts entries, adds missing parent directories, clamps mtimes and leaves owner names empty", async () => {
    const got = await list(await bytes(layerTar(entries, { sourceDateEpoch: EPOCH })));
    expect(got.map((h) => `${h.type} ${h.name}`)).toEqual([
      "directory app/",
      "directory app/data/",
      "file app/data/x.bin",
      "file app/main.py",
      "directory usr/",
      "directory usr/bin/",
      "symlink usr/bin/python",
    ]);
    for (const h of got) {
      expect(h.mtime?.getTime()).toBe(EPOCH * 1000);
      expect(h.uname ?? "").toBe("");
      expect(h.gname ?? "").toBe("");
    }
    expect(got[0]).toMatchObject({ mode: 0o750, uid: 1000, gid: 1000 });
    expect(got[1]).toMatchObject({ mode: 0o755, uid: 0, gid: 0 });
    expect(got[2]).toMatchObject({ mode: 0o600, size: 700 });
    expect(got[3]!.body).toBe("print('hi')\n");
    expect(got[6]).toMatchObject({ linkname: "python3.12" });
    // an mtime older than the epoch is kept (clamped, not replaced)
    const old = await list(
      await bytes(layerTar([{ path: "f", type: "file", mtime: 1000 }], { sourceDateEpoch: EPOCH })),
    );
    expect(old[0]!.mtime?.getTime()).toBe(1000 * 1000);
  });

  it("writes PAX headers only for long or non-ASCII names and link targets", async () => {
    const long = `site-packages/${"a".repeat(90)}/${"b".repeat(60)}.py`;
    const tar = await bytes(
      layerTar(
        [
          { path: long, type: "file", content: Buffer.from("x") },
          { path: "café.txt", type: "file", content: Buffer.from("y") },
          { path: "short", type: "symlink", linkTarget: `/${"t".repeat(120)}` },
          { path: "plain.txt", type: "file", content: Buffer.from("z") },
        ],
        { sourceDateEpoch: 0 },
      ),
    );
    const got = await list(tar);
    expect(got.map((h) => h.name)).toEqual([
      "café.txt",
      "plain.txt",
      "short",
      "site-packages/",
      `site-packages/${"a".repeat(90)}/`,
      long,
    ]);
    expect(got.find((h) => h.name === "short")!.linkname).toBe(`/${"t".repeat(120)}`);
    // café (non-ASCII), short (long link), the 91-byte directory and the long file get PAX headers
    expect(rawTypeflags(tar)).toEqual(["x", "0", "0", "x", "2", "5", "x", "5", "x", "0"]);
    // GNU tar reads it the same way
    const dir = await mkdtemp(join(tmpdir(), "tarw-"));
    tmpDirs.push(dir);
    await writeFile(join(dir, "l.tar"), tar);
    const t = spawnSync("tar", ["-tf", join(dir, "l.tar")], { encoding: "utf8" });
    if (t.status === 0) expect(t.stdout.trim().split("\n")).toContain(long);
  });

  it("puts a size too big for ustar in a PAX record", () => {
    const h = entryHeader({
      path: "big",
      type: "file",
      mode: 0o644,
      uid: 0,
      gid: 3_000_000,
      mtime: 0,
      size: 2 ** 34,
    });
    const text = h.toString("latin1");
    expect(text).toContain(`size=${2 ** 34}\n`);
    expect(text).toContain("gid=3000000\n");
    expect(h.length).toBe(3 * 512);
  });

  it("makes a hard link point at an earlier entry, swapping with its target when needed", async () => {
    const got = await list(
      await bytes(
        layerTar(
          [
            { path: "z/real", type: "file", content: Buffer.from("data") },
            { path: "a/link", type: "hardlink", linkTarget: "/z/real" },
          ],
          { sourceDateEpoch: 0 },
        ),
      ),
    );
    expect(got.map((h) => [h.name, h.type, h.linkname ?? null, h.body])).toEqual([
      ["a/", "directory", null, ""],
      ["a/link", "file", null, "data"],
      ["z/", "directory", null, ""],
      ["z/real", "link", "a/link", ""],
    ]);
  });

  it("refuses .. in paths, duplicates and files used as directories, as input errors", () => {
    expect(() => layerTar([{ path: "a/../etc/passwd", type: "file" }], { sourceDateEpoch: 0 })).toThrow(
      expect.objectContaining({ code: "input", message: expect.stringContaining('".."') }),
    );
    expect(() =>
      layerTar(
        [
          { path: "a", type: "file" },
          { path: "/a", type: "file" },
        ],
        { sourceDateEpoch: 0 },
      ),
    ).toThrow(expect.objectContaining({ code: "input", message: expect.stringContaining("listed twice") }));
    expect(() =>
      layerTar(
        [
          { path: "a", type: "file" },
          { path: "a/b", type: "file" },
        ],
        { sourceDateEpoch: 0 },
      ),
    ).toThrow(expect.objectContaining({ code: "input" }));
  });
});

describe("layerFromDirectory", () => {
  it("reads files, symlinks and hard links under a prefix, owned by the given uid, reproducibly", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tarw-dir-"));
    tmpDirs.push(dir);
    await mkdir(join(dir, "pkg"));
    await writeFile(join(dir, "pkg", "__init__.py"), "x = 1\n");
    await writeFile(join(dir, "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
    await symlink("pkg/__init__.py", join(dir, "init-link"));
    await link(join(dir, "run.sh"), join(dir, "run2.sh"));
    const o = { prefix: "/srv/app", sourceDateEpoch: EPOCH, uid: 10001, gid: 10001 };
    const a = await bytes(await layerFromDirectory(dir, o));
    const got = await list(a);
    expect(got.map((h) => `${h.type} ${h.name} ${h.linkname ?? ""}`.trim())).toEqual([
      "directory srv/",
      "directory srv/app/",
      "symlink srv/app/init-link pkg/__init__.py",
      "directory srv/app/pkg/",
      "file srv/app/pkg/__init__.py",
      "file srv/app/run.sh",
      "link srv/app/run2.sh srv/app/run.sh",
    ]);
    expect(got[0]).toMatchObject({ uid: 0, gid: 0 }); // an implied parent
    expect(got.slice(1).every((h) => h.uid === 10001 && h.gid === 10001)).toBe(true);
    expect(got[5]).toMatchObject({ mode: 0o755, size: 10 });
    // touching the files (newer than the epoch) changes nothing
    await utimes(join(dir, "run.sh"), new Date(), new Date());
    const b = await bytes(await layerFromDirectory(dir, o));
    expect(b.equals(a)).toBe(true);
  });

  it("takes a file's size when the stream reaches it, and names a missing file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tarw-file-"));
    tmpDirs.push(dir);
    await writeFile(join(dir, "a.txt"), "from disk\n");
    const got = await list(
      await bytes(
        layerTar([{ path: "a.txt", type: "file", content: { file: join(dir, "a.txt") } }], {
          sourceDateEpoch: 0,
        }),
      ),
    );
    expect(got.map((h) => [h.name, h.size, h.body])).toEqual([["a.txt", 10, "from disk\n"]]);
    await expect(
      bytes(
        layerTar([{ path: "b", type: "file", content: { file: join(dir, "missing") } }], {
          sourceDateEpoch: 0,
        }),
      ),
    ).rejects.toMatchObject({ code: "not-found", message: expect.stringContaining(join(dir, "missing")) });
  });

  it("refuses a FIFO with an input error naming it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tarw-fifo-"));
    tmpDirs.push(dir);
    const made = spawnSync("mkfifo", [join(dir, "pipe")]);
    if (made.status !== 0) return console.log("FIFO check skipped: mkfifo failed");
    await expect(layerFromDirectory(dir, { sourceDateEpoch: 0 })).rejects.toMatchObject({
      code: "input",
      message: expect.stringContaining(join(dir, "pipe")),
    });
  });
});
