/**
 * A disk that fills up: outputs go to a 64 KiB tmpfs (tests run as root; skipped, saying why, when
 * the mount is refused). A write that does not fit is an error naming the path and saying the disk
 * is full, with the bytes it needed; no partial file and no temporary file are left, and a file that
 * was there keeps its content.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../cli/testing.js";
import { isSlimwheelError } from "../errors.js";
import { writeLayerBlob } from "../oci/blob.js";
import { assembleImage, imageBytes, writeImage } from "../oci/image-writer.js";
import { layerTar } from "../oci/tar-writer.js";
import { readStageCache, writeStageCache } from "../pipeline/stage-cache.js";
import { writeAtomic } from "../util/write-atomic.js";

let base: string;
let mnt: string;
let mounted = false;
let why = "";

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "slimwheel-diskfull-"));
  mnt = join(base, "mnt");
  await mkdir(mnt);
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt], { encoding: "utf8" });
  mounted = r.status === 0;
  why = `mount -t tmpfs failed (${(r.stderr || String(r.error)).trim()}): needs root and CAP_SYS_ADMIN`;
});
afterAll(async () => {
  if (mounted) spawnSync("umount", [mnt]);
  await rm(base, { recursive: true, force: true });
});

/** Fills the tmpfs to the last byte (what fits of a write bigger than it stays). */
async function fill(): Promise<void> {
  await writeFile(join(mnt, "filler"), Buffer.alloc(128 * 1024)).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOSPC") throw e;
  });
}

async function empty(): Promise<void> {
  for (const f of await readdir(mnt)) await rm(join(mnt, f), { recursive: true, force: true });
}

describe("a full disk", () => {
  it("writeAtomic: an error naming the path, the disk full and the bytes; nothing left behind", async (t) => {
    if (!mounted) {
      console.warn(`skipped: ${why}`);
      t.skip();
    }
    await empty();
    const path = join(mnt, "report.html");
    let err: unknown;
    try {
      await writeAtomic(path, Buffer.alloc(1024 * 1024, "x"));
    } catch (e) {
      err = e;
    }
    expect(isSlimwheelError(err)).toBe(true);
    expect(err).toMatchObject({ code: "io" });
    expect((err as Error).message).toBe(
      `cannot write ${path}: the disk is full (1048576 bytes to write; ENOSPC)`,
    );
    expect(await readdir(mnt)).toEqual([]);

    // A file that was there keeps its content.
    await writeAtomic(path, "old report\n");
    await expect(writeAtomic(path, Buffer.alloc(1024 * 1024, "y"))).rejects.toMatchObject({ code: "io" });
    expect(await readFile(path, "utf8")).toBe("old report\n");
    expect(await readdir(mnt)).toEqual(["report.html"]);
  });

  it("dockerfile -o and lint -o on a full disk: exit 1, the path named, no Dockerfile, no temporary file", async (t) => {
    if (!mounted) {
      console.warn(`skipped: ${why}`);
      t.skip();
    }
    await empty();
    const project = join(base, "app");
    await mkdir(project, { recursive: true });
    await writeFile(
      join(project, "requirements.txt"),
      Array.from({ length: 2000 }, (_, i) => `pkg${i}==1.${i}\n`).join(""),
    );
    await writeFile(join(project, "app.py"), "print(1)\n");
    await fill();
    const before = await readdir(mnt);
    const target = join(mnt, "Dockerfile");
    const r = await runCli(["dockerfile", project, "-o", target]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`cannot write ${target}: the disk is full \\(\\d+ bytes to write; ENOSPC\\)`),
    );
    expect(r.stderr).toContain("hint: free space");
    expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
    expect(await readdir(mnt)).toEqual(before);

    // lint -o of that project's Dockerfile written elsewhere, into the full disk.
    const df = join(base, "Dockerfile");
    expect((await runCli(["dockerfile", project, "-o", df])).code).toBe(0);
    const sarif = join(mnt, "lint.sarif");
    const l = await runCli(["lint", df, "--format", "sarif", "-o", sarif]);
    expect(l.code, l.stderr).toBe(1);
    expect(l.stderr).toContain(`cannot write ${sarif}: the disk is full`);
    expect(await readdir(mnt)).toEqual(before);
  });

  it("the OCI writer (oci:DIR, oci-archive:, docker-archive:): the path and the image's bytes named, nothing left", async (t) => {
    if (!mounted) {
      console.warn(`skipped: ${why}`);
      t.skip();
    }
    await empty();
    // An image of 256 KiB of incompressible bytes: four times the disk.
    const store = join(base, "store");
    await mkdir(store, { recursive: true });
    const noise = randomBytes(256 * 1024);
    const blob = await writeLayerBlob(
      layerTar([{ path: "app/noise.bin", type: "file", content: noise }], { sourceDateEpoch: 0 }),
      store,
    );
    const image = await assembleImage({
      layers: [{ blob, createdBy: "test" }],
      config: { cmd: ["true"] },
      created: 0,
      store,
    });
    const bytes = imageBytes(image);
    expect(bytes).toBeGreaterThan(256 * 1024);
    for (const kind of ["oci-dir", "oci-archive", "docker-archive"] as const) {
      const path = join(mnt, `image-${kind}`);
      const e = await writeImage(image, { kind, path }).catch((x: unknown) => x);
      expect(isSlimwheelError(e), String(e)).toBe(true);
      expect(e).toMatchObject({ code: "io" });
      expect((e as Error).message).toBe(
        `cannot write ${path}: the disk is full (${bytes} bytes of image to write; ENOSPC)`,
      );
      expect(await readdir(mnt), kind).toEqual([]);
    }
  });

  it("the stage cache: the entry's path and bytes named, no temporary file, the old entry kept", async (t) => {
    if (!mounted) {
      console.warn(`skipped: ${why}`);
      t.skip();
    }
    await empty();
    const dir = join(mnt, "stages");
    const key = "a".repeat(64);
    const entry = (n: number) => ({
      format: 1,
      imageId: `sha256:${"b".repeat(64)}`,
      ref: "localhost/slimwheel-stage:deps-x",
      detection: {
        resolution: { needs: [], packageOf: {}, unresolved: [], note: "x".repeat(n) },
        extensions: 0,
        wheels: 0,
      },
    });
    await writeStageCache(dir, key, entry(10) as never);
    await fill();
    const big = entry(256 * 1024);
    const e = await writeStageCache(dir, key, big as never).catch((x: unknown) => x);
    expect(isSlimwheelError(e), String(e)).toBe(true);
    expect((e as Error).message).toBe(
      `cannot write the stage cache entry ${join(dir, `${key}.json`)}: the disk is full (${Buffer.byteLength(JSON.stringify(big))} bytes to write; ENOSPC)`,
    );
    expect(await readdir(dir)).toEqual([`${key}.json`]);
    expect(
      ((await readStageCache(dir, key)) as unknown as ReturnType<typeof entry>).detection.resolution.note,
    ).toBe("x".repeat(10));
  });
});
