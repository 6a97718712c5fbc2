import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";
import { describe, expect, it } from "vitest";
import { analyzeLayer } from "./layer.js";

async function tarOf(entries: { name: string; body?: string; size?: number }[]): Promise<Buffer> {
  const p = pack();
  for (const e of entries) p.entry({ name: e.name }, e.body ?? "x".repeat(e.size ?? 1));
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe("analyzeLayer", () => {
  it("counts files, toolchain bytes, whiteouts and both sizes, and computes the diff_id", async () => {
    const tar = await tarOf([
      { name: "usr/bin/gcc-12", size: 1000 },
      { name: "usr/include/stdio.h", size: 200 },
      { name: "app/app.py", body: "print(1)\n" },
      { name: "usr/lib/.wh.libfoo.so" },
    ]);
    const gz = gzipSync(tar);
    const a = await analyzeLayer(Readable.from(gz), true, "t");
    expect(a).toMatchObject({
      files: 3,
      toolchainBytes: 1200,
      whiteouts: ["usr/lib/libfoo.so"],
      compressedSize: gz.length,
      uncompressedSize: tar.length,
    });
    const b = await analyzeLayer(Readable.from(tar), false, "t");
    expect(b.diffId).toBe(a.diffId);
    expect(b.uncompressedSize).toBe(tar.length);
    expect(b.compressedSize).toBeGreaterThan(0);
    expect(b.compressedSize).toBeLessThan(tar.length);
  });

  it("reports a corrupt layer as an input error naming it", async () => {
    const gz = gzipSync(await tarOf([{ name: "a", size: 5000 }]));
    await expect(
      analyzeLayer(Readable.from(gz.subarray(0, gz.length / 2)), true, "sha256:abc"),
    ).rejects.toMatchObject({
      code: "input",
      message: expect.stringMatching(/^reading layer sha256:abc: /),
    });
    await expect(
      analyzeLayer(Readable.from(Buffer.from("not a tar at all, not gzip either")), true, "l2"),
    ).rejects.toMatchObject({ code: "input" });
  });
});
