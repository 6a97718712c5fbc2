/**
 * Where `build` writes its SBOM (docs/sbom.md) and what it reads for it: the path rules (cache
 * directory, beside an output, one file per platform) and, over a real OCI layout written by
 * slimwheel's writer, the contents read from the image — or, after a layer-cache hit, the cached
 * contents without reading the image at all.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Context } from "../context.js";
import { writeLayerBlob } from "../oci/blob.js";
import { assembleImage, writeImage } from "../oci/image-writer.js";
import { layerTar } from "../oci/tar-writer.js";
import { silentReporter } from "../reporter/index.js";
import { sbomCacheDir, sbomCachePath, sbomExtension, sbomPathBeside } from "../sbom/index.js";
import { type BuildOutcome, missingSbom } from "./build-image.js";
import { buildSbomPath, builtImageContents, writeBuildSbomFile } from "./build-sbom.js";
import {
  LAYER_CACHE_FORMAT,
  type LayerCacheEntry,
  layerCacheDirs,
  readLayerEntry,
  writeLayerEntry,
} from "./layer-cache.js";

const HEX = "0123456789abcdef".repeat(4);

describe("where a build's SBOM goes", () => {
  it("names the cache file for the image: its tag made a file name, 12 digits of its digest, the format", () => {
    const dir = "/c/slimwheel/sbom";
    expect(sbomCachePath(dir, "localhost/slimwheel/flask-app:slimwheel", `sha256:${HEX}`, "cyclonedx")).toBe(
      "/c/slimwheel/sbom/localhost_slimwheel_flask-app_slimwheel@0123456789ab.cdx.json",
    );
    expect(sbomCachePath(dir, "127.0.0.1:5000/team/app:1.0-linux-arm64", `sha256:${HEX}`, "spdx")).toBe(
      "/c/slimwheel/sbom/127.0.0.1_5000_team_app_1.0-linux-arm64@0123456789ab.spdx.json",
    );
    // Nothing can climb out of the directory or hide as a dot file; no name, no digest: placeholders.
    expect(sbomCachePath(dir, "../../etc/passwd", `sha256:${HEX}`, "cyclonedx")).toBe(
      "/c/slimwheel/sbom/etc_passwd@0123456789ab.cdx.json",
    );
    expect(sbomCachePath(dir, ".hidden", undefined, "cyclonedx")).toBe(
      "/c/slimwheel/sbom/hidden@unknown.cdx.json",
    );
    expect(sbomCachePath(dir, "", "sha256:not-hex", "spdx")).toBe(
      "/c/slimwheel/sbom/image@unknown.spdx.json",
    );
    expect(sbomCachePath(dir, "a".repeat(300), HEX, "cyclonedx")).toBe(
      `/c/slimwheel/sbom/${"a".repeat(120)}@0123456789ab.cdx.json`,
    );
  });

  it("finds the cache directory from XDG_CACHE_HOME, else HOME", () => {
    expect(sbomCacheDir({ XDG_CACHE_HOME: "/x", HOME: "/h" })).toBe("/x/slimwheel/sbom");
    expect(sbomCacheDir({ HOME: "/h" })).toBe("/h/.cache/slimwheel/sbom");
    expect(sbomExtension("cyclonedx")).toBe(".cdx.json");
    expect(sbomExtension("spdx")).toBe(".spdx.json");
  });

  it("puts one file per platform beside an output", () => {
    expect(sbomPathBeside("out/app", "cyclonedx")).toBe("out/app.cdx.json");
    expect(sbomPathBeside("out/app/", "cyclonedx", "linux/arm64")).toBe("out/app.linux-arm64.cdx.json");
    expect(sbomPathBeside("out/app.tar", "spdx", "linux/arm/v7")).toBe("out/app.tar.linux-arm-v7.spdx.json");
  });

  it("chooses --sbom-file, else beside the output, else the cache directory", () => {
    const env = { XDG_CACHE_HOME: "/x" };
    const c = { manifestDigest: `sha256:${HEX}`, configDigest: `sha256:${"f".repeat(64)}` };
    expect(buildSbomPath(c, "cyclonedx", { file: "/f.json", output: "/o", name: "a" }, env)).toBe("/f.json");
    expect(buildSbomPath(c, "spdx", { output: "/o/img", platform: "linux/amd64", name: "a" }, env)).toBe(
      "/o/img.linux-amd64.spdx.json",
    );
    expect(buildSbomPath(c, "cyclonedx", { name: "localhost/app:dev" }, env)).toBe(
      "/x/slimwheel/sbom/localhost_app_dev@0123456789ab.cdx.json",
    );
    // An engine's image has a config digest only.
    expect(buildSbomPath({ configDigest: c.configDigest }, "cyclonedx", { name: "app" }, env)).toBe(
      "/x/slimwheel/sbom/app@ffffffffffff.cdx.json",
    );
  });
});

describe("the SBOM of a built image", { timeout: 30_000 }, () => {
  let root: string;
  let layout: string;
  let manifestDigest: string;
  let configDigest: string;
  let ctx: Context;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "build-sbom-"));
    const store = join(root, "store");
    await mkdir(store);
    const file = (path: string, text: string) => ({
      path,
      type: "file" as const,
      content: Buffer.from(text),
    });
    const blob = await writeLayerBlob(
      layerTar(
        [
          file("etc/os-release", 'ID=debian\nVERSION_ID="12"\n'),
          file(
            "var/lib/dpkg/status",
            "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9\n",
          ),
          file(
            "usr/local/lib/python3.12/site-packages/flask-3.0.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: Flask\nVersion: 3.0.0\n",
          ),
        ],
        { sourceDateEpoch: 0 },
      ),
      store,
    );
    const img = await assembleImage({ layers: [{ blob }], config: {}, created: 0, store });
    layout = join(root, "layout");
    await writeImage(img, { kind: "oci-dir", path: layout }, { refName: "1" });
    manifestDigest = img.manifest.descriptor.digest;
    configDigest = img.manifestJson.config.digest;
    const project = join(root, "project");
    await mkdir(project);
    ctx = {
      signal: new AbortController().signal,
      reporter: silentReporter,
      cwd: project,
      env: { XDG_CACHE_HOME: join(root, "xdg"), HOME: join(root, "home"), PATH: join(root, "no-bin") },
      now: () => 0,
      sourceDateEpoch: 1700000000,
    };
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const outcome = (o: Partial<BuildOutcome>) =>
    ({ imageId: configDigest, tags: ["localhost/app:dev"], pushed: [], ...o }) as BuildOutcome;

  it("reads the image, writes it to the cache directory atomically, and nothing into the project", async () => {
    const contents = await builtImageContents(
      outcome({}),
      `oci:${layout}`,
      ctx,
      "containers-storage:localhost/app:dev",
    );
    expect(contents.ref).toBe("containers-storage:localhost/app:dev");
    expect(contents.manifestDigest).toBe(manifestDigest);
    expect(contents.python.map((d) => d.name)).toEqual(["Flask"]);
    expect(contents.deb.map((p) => p.name)).toEqual(["libc6"]);
    const written = await writeBuildSbomFile(contents, "cyclonedx", { name: "localhost/app:dev" }, ctx);
    const dir = join(root, "xdg", "slimwheel", "sbom");
    expect(written.path).toBe(join(dir, `localhost_app_dev@${manifestDigest.slice(7, 19)}.cdx.json`));
    expect(await readdir(dir)).toEqual([`localhost_app_dev@${manifestDigest.slice(7, 19)}.cdx.json`]);
    const bom = JSON.parse(await readFile(written.path, "utf8"));
    expect(bom.specVersion).toBe("1.6");
    expect(bom.metadata.component.name).toBe("localhost/app:dev");
    expect(await readdir(ctx.cwd)).toEqual([]);
    // SPDX: its own file beside it.
    const spdx = await writeBuildSbomFile(contents, "spdx", { name: "localhost/app:dev" }, ctx);
    expect(spdx.path.endsWith(`@${manifestDigest.slice(7, 19)}.spdx.json`)).toBe(true);
    expect(JSON.parse(await readFile(spdx.path, "utf8")).spdxVersion).toBe("SPDX-2.3");
  });

  it("tells a hit's SBOM step what the entry misses: its layers, and with a patched project layer the cached RECORD's hash", async () => {
    const tree = join(root, "tree");
    const record = "/usr/lib/python3/dist-packages/app-1.0.dist-info/RECORD";
    await mkdir(join(tree, record, ".."), { recursive: true });
    await writeFile(join(tree, record), "app/__init__.py,,\n");
    const lower = [{ blob: { digest: "sha256:1" } }, { blob: { digest: "sha256:2" } }] as never;
    expect(await missingSbom({ lower, patch: undefined }, tree, false)).toEqual({
      sbomMissing: { lower: ["sha256:1", "sha256:2"] },
    });
    expect(await missingSbom({ lower, patch: { record } as never }, tree, true)).toEqual({
      sbomMissing: {
        lower: ["sha256:1", "sha256:2"],
        record: {
          dir: "/usr/lib/python3/dist-packages/app-1.0.dist-info",
          sha256: createHash("sha256").update("app/__init__.py,,\n").digest("hex"),
        },
      },
    });
    // The cached RECORD cannot be read: nothing is remembered.
    expect(await missingSbom({ lower, patch: { record: "/nope/RECORD" } as never }, tree, true)).toEqual({});
  });

  it("after a hit whose entry had no contents, remembers what it read (the cached project layer's RECORD hash)", async () => {
    const dirs = layerCacheDirs(ctx.env);
    const entry = (key: string) =>
      ({
        format: LAYER_CACHE_FORMAT,
        key,
        lowerEpoch: 0,
        engine: { id: "buildah", available: true, detail: "" },
        lower: [],
        config: {},
        closure: { python: {}, layers: [], dropped: [], unresolved: [], packages: [], distributions: [] },
        plan: {},
        fastPath: { ok: true },
      }) as unknown as LayerCacheEntry;
    await writeLayerEntry(dirs, entry("patched"));
    await writeLayerEntry(dirs, entry("had"));
    const dist = "/usr/local/lib/python3.12/site-packages/flask-3.0.0.dist-info";
    const cachedRecord = "ab".repeat(32);
    await builtImageContents(
      outcome({
        manifestDigest,
        layerCache: {
          key: "patched",
          hit: true,
          sbomMissing: { lower: [], record: { dir: dist, sha256: cachedRecord } },
        },
      }),
      `oci:${layout}`,
      ctx,
    );
    const remembered = (await readLayerEntry(dirs, "patched"))?.sbom;
    expect(remembered?.python.map((d) => [d.name, d.path, d.recordSha256])).toEqual([
      ["Flask", dist, cachedRecord],
    ]);
    expect(remembered?.deb.map((p) => p.name)).toEqual(["libc6"]);
    // An entry written since with other layers, or an image read that is not the one built: left as it is.
    await writeLayerEntry(dirs, entry("rewritten"));
    const elsewhere = { key: "rewritten", hit: true, sbomMissing: { lower: ["sha256:other"] } };
    await builtImageContents(outcome({ manifestDigest, layerCache: elsewhere }), `oci:${layout}`, ctx);
    expect((await readLayerEntry(dirs, "rewritten"))?.sbom).toBeUndefined();
    const sameLayers = { key: "rewritten", hit: true, sbomMissing: { lower: [] } };
    await builtImageContents(
      outcome({ manifestDigest, imageId: "sha256:another", layerCache: sameLayers }),
      `oci:${layout}`,
      ctx,
    );
    expect((await readLayerEntry(dirs, "rewritten"))?.sbom).toBeUndefined();
    await builtImageContents(outcome({ manifestDigest, layerCache: sameLayers }), `oci:${layout}`, ctx);
    expect((await readLayerEntry(dirs, "rewritten"))?.sbom?.python.map((d) => d.name)).toEqual(["Flask"]);
    // A hit whose entry had them (no sbomMissing): the entry is left as it is.
    await builtImageContents(
      outcome({ manifestDigest, layerCache: { key: "had", hit: true } }),
      `oci:${layout}`,
      ctx,
    );
    expect((await readLayerEntry(dirs, "had"))?.sbom).toBeUndefined();
  });

  it("after a layer-cache hit, writes the cached contents without reading the image", async () => {
    const read = await builtImageContents(outcome({}), `oci:${layout}`, ctx);
    const { ref: _r, manifestDigest: _m, configDigest: _c, ...cachedSbom } = read;
    const hit = outcome({ cachedSbom, manifestDigest, layerCache: { key: "k", hit: true } });
    // The reference to read names nothing: reading it would fail.
    const contents = await builtImageContents(hit, `oci:${join(root, "no-such-layout")}`, ctx, "oci:out/app");
    expect(contents).toEqual({ ...read, ref: "oci:out/app", manifestDigest, configDigest });
    await expect(
      builtImageContents(outcome({}), `oci:${join(root, "no-such-layout")}`, ctx),
    ).rejects.toThrow();
    // Beside an output, one file per platform.
    const out = join(root, "out", "app");
    await mkdir(join(root, "out"));
    const w = await writeBuildSbomFile(contents, "cyclonedx", { output: out, platform: "linux/arm64" }, ctx);
    expect(w.path).toBe(`${out}.linux-arm64.cdx.json`);
    expect(await readdir(join(root, "out"))).toEqual(["app.linux-arm64.cdx.json"]);
  });
});
