import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gunzipSync } from "node:zlib";
import { extract } from "tar-stream";
import { afterAll, describe, expect, it } from "vitest";
import { blobFile, canonicalJson, writeLayerBlob } from "./blob.js";
import { readDockerArchive } from "./docker-archive.js";
import {
  assembleImage,
  type ImageInput,
  loadLayoutImage,
  resolveSourceDateEpoch,
  writeDockerArchive,
  writeOciArchive,
  writeOciLayout,
} from "./image-writer.js";
import { readLayout } from "./layout.js";
import { ociSchema } from "./oci-schema.testutil.js";
import { type LayerEntry, layerTar } from "./tar-writer.js";

const EPOCH = 1_700_000_000;
const tmpDirs: string[] = [];
const tmp = async (name: string) => {
  const d = await mkdtemp(join(tmpdir(), `ociw-${name}-`));
  tmpDirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

const hash = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

async function bytes(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function tarFiles(tar: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const x = extract();
  x.on("entry", (h, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: unknown) => chunks.push(c as Buffer));
    stream.on("end", () => {
      if (h.type === "file") out.set(h.name, Buffer.concat(chunks));
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

const appEntries: LayerEntry[] = [
  { path: "app/main.py", type: "file", content: Buffer.from("print('hello')\n") },
  { path: "app/lib/util.py", type: "file", content: Buffer.from("X = 1\n".repeat(1000)) },
];
const depsEntries: LayerEntry[] = [
  { path: "usr/local/lib/python3.12/site-packages/six.py", type: "file", content: Buffer.alloc(5000, 65) },
  { path: "usr/local/bin/python", type: "symlink", linkTarget: "python3.12" },
];

async function image(store: string, extra: Partial<ImageInput> = {}) {
  const deps = await writeLayerBlob(layerTar(depsEntries, { sourceDateEpoch: EPOCH }), store);
  const app = await writeLayerBlob(layerTar(appEntries, { sourceDateEpoch: EPOCH }), store);
  return assembleImage({
    layers: [
      { blob: deps, createdBy: "slimwheel: dependencies" },
      { blob: app, createdBy: "slimwheel: app" },
    ],
    config: {
      entrypoint: ["python"],
      cmd: ["app/main.py"],
      env: ["PATH=/usr/local/bin:/usr/bin:/bin", "PYTHONUNBUFFERED=1"],
      workingDir: "/app",
      user: "10001:10001",
      exposedPorts: ["8000"],
      labels: { "org.opencontainers.image.title": "demo" },
    },
    emptyLayerHistory: ["ENV PYTHONUNBUFFERED=1"],
    created: EPOCH,
    store,
    ...extra,
  });
}

describe("writeLayerBlob", () => {
  it("stores the gzip blob under its digest, with the diff_id of the tar, in one pass", async () => {
    const store = await tmp("store");
    const tar = await bytes(layerTar(appEntries, { sourceDateEpoch: EPOCH }));
    const blob = await writeLayerBlob(Readable.from([tar]), store);
    const file = await readFile(blobFile(store, blob.digest));
    expect(hash(file)).toBe(blob.digest);
    expect(file.length).toBe(blob.size);
    expect(blob.diffId).toBe(hash(tar));
    expect(hash(gunzipSync(file))).toBe(blob.diffId);
    expect(blob.uncompressedSize).toBe(tar.length);
    expect(blob.mediaType).toBe("application/vnd.oci.image.layer.v1.tar+gzip");
    // gzip header: no FNAME flag, mtime 0
    expect(file[3]).toBe(0);
    expect(file.readUInt32LE(4)).toBe(0);
    // no temporary file left behind, and the same tar gives the same blob
    const again = await writeLayerBlob(Readable.from([tar]), store);
    expect(again).toEqual(blob);
    expect((await readdir(store)).sort()).toEqual(["sha256"]);
  });

  it("leaves nothing behind when the tar stream fails", async () => {
    const store = await tmp("store-fail");
    const failing = new Readable({
      read() {
        this.destroy(new Error("disk went away"));
      },
    });
    await expect(writeLayerBlob(failing, store)).rejects.toMatchObject({
      code: "io",
      message: expect.stringContaining("disk went away"),
    });
    expect(await readdir(store)).toEqual([]);
  });
});

describe("assembleImage and the writers", { timeout: 30_000 }, () => {
  it("gives the same manifest digest for the same inputs, whatever the store", async () => {
    const a = await image(await tmp("a"));
    const b = await image(await tmp("b"));
    expect(b.manifest.descriptor.digest).toBe(a.manifest.descriptor.digest);
    expect(b.manifest.bytes.equals(a.manifest.bytes)).toBe(true);
    const c = await image(await tmp("c"), { created: EPOCH + 1 });
    expect(c.manifest.descriptor.digest).not.toBe(a.manifest.descriptor.digest);
    // canonical: keys sorted, no whitespace
    expect(a.manifest.bytes.toString()).toBe(canonicalJson(JSON.parse(a.manifest.bytes.toString())));
  });

  it("writes config, manifest, index and oci-layout that follow the OCI schemas", async () => {
    const store = await tmp("schema");
    const img = await image(store);
    const out = join(await tmp("schema-out"), "layout");
    const digest = await writeOciLayout(img, out, { refName: "latest" });
    const json = async (p: string) => JSON.parse(await readFile(join(out, p), "utf8"));
    const index = await json("index.json");
    const manifest = await json(`blobs/sha256/${digest.slice(7)}`);
    const config = await json(`blobs/sha256/${manifest.config.digest.slice(7)}`);
    for (const [schema, doc] of [
      ["image-index-schema.json", index],
      ["image-manifest-schema.json", manifest],
      ["config-schema.json", config],
      ["image-layout-schema.json", await json("oci-layout")],
    ] as const) {
      const v = ociSchema(schema);
      expect(v(doc), `${schema}: ${JSON.stringify(v.errors)}`).toBe(true);
    }
    // the schemas can fail: a manifest without layers, a config with a non-string env
    expect(ociSchema("image-manifest-schema.json")({ ...manifest, layers: [] })).toBe(false);
    expect(ociSchema("config-schema.json")({ ...config, config: { Env: [1] } })).toBe(false);
    expect(index.manifests[0]).toMatchObject({
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest,
      annotations: { "org.opencontainers.image.ref.name": "latest" },
    });
    expect(config).toMatchObject({
      created: "2023-11-14T22:13:20Z",
      architecture: "amd64",
      os: "linux",
      config: {
        Entrypoint: ["python"],
        Cmd: ["app/main.py"],
        WorkingDir: "/app",
        User: "10001:10001",
        ExposedPorts: { "8000/tcp": {} },
        Labels: { "org.opencontainers.image.title": "demo" },
      },
      rootfs: { type: "layers" },
    });
    expect(config.history).toHaveLength(3);
    expect(config.history[2]).toMatchObject({ empty_layer: true, created_by: "ENV PYTHONUNBUFFERED=1" });
    // slimwheel's own reader reads it back and checks every layer against its diff_id
    const summary = await readLayout(out);
    expect(summary.digest).toBe(digest);
    expect(summary.layers.map((l) => l.createdBy)).toEqual(["slimwheel: dependencies", "slimwheel: app"]);
    expect(summary.config.user).toBe("10001:10001");
    // written again over itself: same content, nothing left over beside it
    await writeOciLayout(img, out, { refName: "latest" });
    expect(await readdir(join(out, ".."))).toEqual(["layout"]);
    // On one file system the layers are hard links to the stored blobs, not copies.
    const layer = manifest.layers[0].digest as string;
    const [stored, written] = [
      await stat(blobFile(store, layer)),
      await stat(join(out, "blobs/sha256", layer.slice(7))),
    ];
    expect(written.ino).toBe(stored.ino);
  });

  it("reuses the base's layers as they are and merges env, labels and ports", async () => {
    const baseStore = await tmp("base");
    const base = await image(baseStore);
    const baseDir = join(await tmp("base-out"), "base");
    await writeOciLayout(base, baseDir, { refName: "3.12-slim" });
    const store = await tmp("derived");
    const extra = await writeLayerBlob(
      layerTar([{ path: "etc/motd", type: "file", content: Buffer.from("hi\n") }], {
        sourceDateEpoch: EPOCH,
      }),
      store,
    );
    const derived = await assembleImage({
      base: { layout: baseDir, ref: "3.12-slim" },
      layers: [{ blob: extra, createdBy: "motd" }],
      config: {
        env: ["PYTHONUNBUFFERED=0", "LANG=C.UTF-8"],
        labels: { extra: "yes" },
        exposedPorts: ["53/udp"],
        cmd: ["sh"],
      },
      created: EPOCH,
      store,
    });
    expect(derived.manifestJson.layers.slice(0, 2)).toEqual(base.manifestJson.layers);
    expect(derived.manifestJson.layers).toHaveLength(3);
    const c = derived.config.json;
    expect(c.config?.Env).toEqual([
      "PATH=/usr/local/bin:/usr/bin:/bin",
      "PYTHONUNBUFFERED=0",
      "LANG=C.UTF-8",
    ]);
    expect(c.config?.Labels).toEqual({ "org.opencontainers.image.title": "demo", extra: "yes" });
    expect(Object.keys(c.config?.ExposedPorts ?? {})).toEqual(["8000/tcp", "53/udp"]);
    expect(c.config?.Entrypoint).toEqual(["python"]);
    expect(c.config?.Cmd).toEqual(["sh"]);
    expect(c.rootfs?.diff_ids).toEqual([...(base.config.json.rootfs?.diff_ids ?? []), extra.diffId]);
    const out = join(await tmp("derived-out"), "img");
    const derivedDigest = await writeOciLayout(derived, out);
    // the derived image's documents follow the OCI schemas too: an index without ref name, a
    // manifest of base and own layers, a config with merged env, labels and ports
    const read = async (p: string) => JSON.parse(await readFile(join(out, p), "utf8"));
    const derivedIndex = await read("index.json");
    expect(derivedIndex.manifests).toHaveLength(1);
    expect(derivedIndex.manifests[0].annotations).toBeUndefined();
    for (const [schema, doc] of [
      ["image-index-schema.json", derivedIndex],
      ["image-manifest-schema.json", await read(`blobs/sha256/${derivedDigest.slice(7)}`)],
      ["config-schema.json", c],
      ["content-descriptor.json", derived.manifest.descriptor],
    ] as const) {
      const v = ociSchema(schema);
      expect(v(doc), `${schema}: ${JSON.stringify(v.errors)}`).toBe(true);
    }
    // a descriptor with a digest of the wrong form fails the schema
    expect(
      ociSchema("content-descriptor.json")({ ...derived.manifest.descriptor, digest: "sha256/abc" }),
    ).toBe(false);
    const summary = await readLayout(out);
    expect(summary.layers.map((l) => l.createdBy)).toEqual([
      "slimwheel: dependencies",
      "slimwheel: app",
      "motd",
    ]);
    // an unknown ref name is an input error naming the layout
    await expect(loadLayoutImage(baseDir, "nope")).rejects.toMatchObject({
      code: "input",
      message: expect.stringContaining(`${baseDir}: index.json has no image named "nope"`),
    });
  });

  it("writes the same oci-archive twice, holding a valid layout", async () => {
    const img = await image(await tmp("arch"));
    const dir = await tmp("arch-out");
    await writeOciArchive(img, join(dir, "a.tar"), { refName: "v1", sourceDateEpoch: EPOCH });
    await writeOciArchive(img, join(dir, "b.tar"), { refName: "v1", sourceDateEpoch: EPOCH });
    const a = await readFile(join(dir, "a.tar"));
    expect((await readFile(join(dir, "b.tar"))).equals(a)).toBe(true);
    const files = await tarFiles(a);
    const names = [...files.keys()];
    expect(names).toEqual([...names].sort());
    expect(names.slice(-2)).toEqual(["index.json", "oci-layout"]);
    expect(files.get("oci-layout")?.toString()).toBe('{"imageLayoutVersion":"1.0.0"}');
    for (const [name, content] of files)
      if (name.startsWith("blobs/sha256/")) expect(hash(content)).toBe(`sha256:${name.slice(13)}`);
    expect(files.size).toBe(2 + 1 + 1 + 2); // oci-layout, index.json, manifest, config, 2 layers
    // unpacked, it is a layout slimwheel reads
    const unpacked = await tmp("arch-unpacked");
    for (const [name, content] of files) {
      await mkdir(join(unpacked, name, ".."), { recursive: true });
      await writeFile(join(unpacked, name), content);
    }
    expect((await readLayout(unpacked)).digest).toBe(img.manifest.descriptor.digest);
    expect(await readdir(dir)).toEqual(["a.tar", "b.tar"]);
  });

  it("writes a docker archive: manifest.json, repositories, config and gzip layers", async () => {
    const img = await image(await tmp("docker"));
    const dir = await tmp("docker-out");
    const file = join(dir, "img.tar");
    const id = await writeDockerArchive(img, file, {
      refName: "127.0.0.1:5000/demo/app:1.0",
      sourceDateEpoch: EPOCH,
    });
    expect(id).toBe(img.manifestJson.config.digest);
    const files = await tarFiles(await readFile(file));
    const manifest = JSON.parse(files.get("manifest.json")!.toString());
    const configName = `${id.slice(7)}.json`;
    expect(manifest).toEqual([
      {
        Config: configName,
        RepoTags: ["127.0.0.1:5000/demo/app:1.0"],
        Layers: img.manifestJson.layers.map((l) => `${l.digest.slice(7)}.tar.gz`),
      },
    ]);
    const diffIds = img.config.json.rootfs!.diff_ids!;
    expect(JSON.parse(files.get("repositories")!.toString())).toEqual({
      "127.0.0.1:5000/demo/app": { "1.0": diffIds[1]!.slice(7) },
    });
    expect(hash(files.get(configName)!)).toBe(id);
    // slimwheel's docker-archive reader reads it and checks each layer against its diff_id
    const summary = await readDockerArchive(file);
    expect(summary.configDigest).toBe(id);
    expect(summary.layers.map((l) => l.diffId)).toEqual(diffIds);
    // skopeo (containers/image's docker-archive reader, as docker load reads it) when installed
    const sk = spawnSync("skopeo", ["inspect", "--raw", "--config", `docker-archive:${file}`], {
      encoding: "utf8",
    });
    if (sk.error) console.log(`skopeo check skipped: ${sk.error.message}`);
    else {
      expect(sk.stderr).toBe("");
      expect(JSON.parse(sk.stdout).rootfs.diff_ids).toEqual(diffIds);
    }
  });
});

describe("resolveSourceDateEpoch", { timeout: 30_000 }, () => {
  it("takes the variable, else the last commit's time, else 0", async () => {
    const dir = await tmp("sde");
    const env = { PATH: process.env.PATH, HOME: dir };
    expect(await resolveSourceDateEpoch({ ...env, SOURCE_DATE_EPOCH: "42" }, dir)).toEqual({
      seconds: 42,
      from: "env",
    });
    await expect(resolveSourceDateEpoch({ SOURCE_DATE_EPOCH: "yesterday" }, dir)).rejects.toMatchObject({
      code: "usage",
    });
    expect(await resolveSourceDateEpoch(env, dir)).toEqual({ seconds: 0, from: "default" });
    const git = (...args: string[]) =>
      spawnSync("git", args, {
        cwd: dir,
        env: {
          ...env,
          GIT_AUTHOR_NAME: "t",
          GIT_AUTHOR_EMAIL: "t@example.invalid",
          GIT_COMMITTER_NAME: "t",
          GIT_COMMITTER_EMAIL: "t@example.invalid",
          GIT_AUTHOR_DATE: "@1600000000 +0000",
          GIT_COMMITTER_DATE: "@1600000123 +0000",
        },
      });
    git("init", "-q");
    await writeFile(join(dir, "f"), "x");
    git("add", "f");
    git("commit", "-q", "-m", "one");
    expect(await resolveSourceDateEpoch(env, dir)).toEqual({ seconds: 1600000123, from: "git" });
  });
});
