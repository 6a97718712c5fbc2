import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tarStore } from "./store.js";

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "sw-store-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function tarOf(
  entries: { name: string; body?: string; type?: "symlink" | "link"; linkname?: string }[],
) {
  const p = pack();
  for (const e of entries)
    p.entry(e.type ? { name: e.name, type: e.type, linkname: e.linkname } : { name: e.name }, e.body ?? "");
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const text = async (s: NodeJS.ReadableStream) => {
  let out = "";
  for await (const c of s) out += c.toString();
  return out;
};

describe("tarStore", () => {
  it("indexes ustar-prefixed and pax long names, follows links, reads and streams by offset", async () => {
    const prefixed = `${"d".repeat(120)}/${"f".repeat(60)}`;
    const pax = "p".repeat(230);
    const tar = await tarOf([
      { name: "./manifest.json", body: '{"a":1}' },
      { name: prefixed, body: "ustar prefix" },
      { name: pax, body: "x".repeat(3000) },
      { name: "blobs/sha256/abc", body: "blob" },
      { name: "old/layer.tar", type: "symlink", linkname: "../blobs/sha256/abc" },
      { name: "hard", type: "link", linkname: "blobs/sha256/abc" },
      { name: "empty", body: "" },
    ]);
    const path = join(tmp, "a.tar");
    await writeFile(path, tar);
    const s = await tarStore(path);
    expect((await s.read("manifest.json")).toString()).toBe('{"a":1}');
    expect(await text(s.open(prefixed))).toBe("ustar prefix");
    expect(await s.size(pax)).toBe(3000);
    expect(await text(s.open(pax))).toBe("x".repeat(3000));
    expect(await text(s.open("old/layer.tar"))).toBe("blob");
    expect((await s.peek("hard", 2)).toString()).toBe("bl");
    expect(await text(s.open("empty"))).toBe("");
    expect(await s.has("nope")).toBe(false);
    await expect(s.read("nope")).rejects.toMatchObject({
      code: "input",
      message: expect.stringMatching(/has no file nope/),
    });
  });

  it("refuses a gzip-compressed archive with a hint, and a file that is not a tar", async () => {
    const gz = join(tmp, "a.tar.gz");
    await writeFile(gz, gzipSync(await tarOf([{ name: "a", body: "b" }])));
    await expect(tarStore(gz)).rejects.toMatchObject({
      code: "input",
      hint: expect.stringMatching(/gunzip/),
    });
    const junk = join(tmp, "junk");
    await writeFile(junk, "z".repeat(1000));
    await expect(tarStore(junk)).rejects.toMatchObject({
      code: "input",
      message: expect.stringMatching(/not a tar/),
    });
    await expect(tarStore(join(tmp, "missing.tar"))).rejects.toMatchObject({ code: "not-found" });
  });

  /** A tar whose first header (of type `flag`) claims `size` bytes, with `tail` bytes after it. */
  function lyingHeader(flag: string, size: string, tail = 1024): Buffer {
    const h = Buffer.alloc(512);
    h.write("big", 0, "latin1");
    h.write("0000644\0", 100, "latin1");
    h.write(size, 124, "latin1");
    h.write(flag, 156, "latin1");
    h.write("ustar\0", 257, "latin1");
    h.write("00", 263, "latin1");
    h.fill(" ", 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    return Buffer.concat([h, Buffer.alloc(tail)]);
  }

  it("refuses, before allocating, a header that claims more bytes than the file has (pax, long name, file)", async () => {
    // 60 MiB claimed in a 1.5 KB file: the size is never trusted for an allocation.
    const claimed = `${(60 * 1024 * 1024).toString(8).padStart(11, "0")}\0`;
    for (const flag of ["x", "L", "0"]) {
      const f = join(tmp, `lying-${flag}.tar`);
      await writeFile(f, lyingHeader(flag, claimed));
      const before = process.memoryUsage().arrayBuffers;
      await expect(tarStore(f), flag).rejects.toMatchObject({
        code: "input",
        message: expect.stringMatching(/claims 62914560 bytes, past the end of the file \(1536 bytes\)/),
      });
      expect(process.memoryUsage().arrayBuffers - before, flag).toBeLessThan(16 * 1024 * 1024);
    }
  });
});
