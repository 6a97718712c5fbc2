import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FixtureImage, writeDockerArchive, writeOciLayout } from "../../test/helpers/oci-image.js";
import { readDockerArchive } from "./docker-archive.js";
import { readLayout } from "./layout.js";

const image: FixtureImage = {
  user: "app",
  layers: [
    {
      createdBy: "ADD base",
      entries: [
        { path: "usr/bin/gcc-12", size: 1000 },
        { path: "etc/x", body: "x" },
      ],
    },
    {
      createdBy: "RUN rm gcc",
      emptyBefore: ["ENV A=1"],
      entries: [
        { path: "usr/bin/gcc-12", type: "whiteout" },
        { path: "usr/include/a.h", size: 200 },
      ],
    },
  ],
};

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "sw-source-"));
  await writeOciLayout(join(tmp, "oci"), image);
  await writeDockerArchive(join(tmp, "d.tar"), image);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("readLayout and readDockerArchive (over ImageSource)", () => {
  it("summarize the same image alike: files, build tools, whiteouts, history without empty layers", async () => {
    const o = await readLayout(join(tmp, "oci"));
    const d = await readDockerArchive(join(tmp, "d.tar"));
    for (const s of [o, d]) {
      expect(s.layers.map((l) => [l.files, l.toolchainBytes, l.whiteouts, l.createdBy])).toEqual([
        [2, 1000, [], "ADD base"],
        [1, 200, ["usr/bin/gcc-12"], "RUN rm gcc"],
      ]);
      expect(s.config.user).toBe("app");
    }
    expect(d.layers.map((l) => l.diffId)).toEqual(o.layers.map((l) => l.diffId));
    expect(d.uncompressedSize).toBe(o.uncompressedSize);
    expect(d.layers[0]!.mediaType).toBe("application/vnd.docker.image.rootfs.diff.tar");
    expect(d.layers[0]!.digest).toBe(d.layers[0]!.diffId);
  });

  it("refuses a layout whose config's diff_ids do not match the layers", async () => {
    const dir = join(tmp, "oci");
    const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8"));
    const blob = (d: string) => join(dir, "blobs", "sha256", d.slice(7));
    const manifest = JSON.parse(await readFile(blob(index.manifests[0].digest), "utf8"));
    const configPath = blob(manifest.config.digest);
    const original = await readFile(configPath, "utf8");
    const config = JSON.parse(original);
    config.rootfs.diff_ids.reverse();
    await writeFile(configPath, JSON.stringify(config));
    try {
      await expect(readLayout(dir)).rejects.toMatchObject({
        code: "input",
        message: expect.stringMatching(/does not match its diff_id/),
      });
    } finally {
      await writeFile(configPath, original);
    }
    await expect(readLayout(dir)).resolves.toBeTruthy();
  });

  it("resolves an image index to this machine's platform", async () => {
    const dir = join(tmp, "multi");
    await writeOciLayout(dir, image);
    const indexPath = join(dir, "index.json");
    const index = JSON.parse(await readFile(indexPath, "utf8"));
    const real = index.manifests[0];
    const arch = ({ x64: "amd64", arm64: "arm64" } as Record<string, string>)[process.arch] ?? process.arch;
    const other = arch === "amd64" ? "arm64" : "amd64";
    const list = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          { ...real, digest: `sha256:${"0".repeat(64)}`, platform: { os: "linux", architecture: other } },
          { ...real, annotations: undefined, platform: { os: "linux", architecture: arch } },
        ],
      }),
    );
    const digest = `sha256:${createHash("sha256").update(list).digest("hex")}`;
    await writeFile(join(dir, "blobs", "sha256", digest.slice(7)), list);
    await writeFile(
      indexPath,
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: "application/vnd.oci.image.index.v1+json", digest, size: list.length }],
      }),
    );
    const s = await readLayout(dir);
    expect(s.digest).toBe(real.digest);
    expect(s.layers).toHaveLength(2);
  });
});
