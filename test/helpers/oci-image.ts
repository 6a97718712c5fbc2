/**
 * A tiny image writer for tests and benches: layers described as entries (files with a body or a
 * number of random bytes, directories, links, whiteouts, opaque markers) become an OCI layout
 * directory, an oci-archive or a docker archive. Everything is streamed (a 1 GB image is written
 * without holding a layer in memory).
 */
import { createCipheriv, createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { pack } from "tar-stream";

export type FixtureEntry =
  | {
      readonly path: string;
      readonly type?: "file";
      readonly body?: string | Buffer;
      /** Incompressible bytes, when no body: a pseudo-random stream keyed by the path (the same each time). */
      readonly size?: number;
      readonly mode?: number;
      readonly uid?: number;
    }
  | { readonly path: string; readonly type: "dir"; readonly mode?: number }
  | { readonly path: string; readonly type: "symlink" | "link"; readonly target: string }
  /** Deletes `path` of the layers below (`.wh.NAME`). */
  | { readonly path: string; readonly type: "whiteout" }
  /** Hides everything below the directory `path` in the layers below (`.wh..wh..opq`). */
  | { readonly path: string; readonly type: "opaque" };

export interface FixtureLayer {
  readonly createdBy?: string;
  /** History entries without a layer (ENV, CMD…) written before this layer's. */
  readonly emptyBefore?: readonly string[];
  readonly entries: readonly FixtureEntry[];
}

export interface FixtureImage {
  readonly layers: readonly FixtureLayer[];
  readonly user?: string;
  readonly cmd?: readonly string[];
}

async function writeEntry(p: ReturnType<typeof pack>, e: FixtureEntry): Promise<void> {
  const mtime = new Date(0);
  const add = (header: Parameters<typeof p.entry>[0], body?: Buffer | string) =>
    new Promise<void>((res, rej) => {
      p.entry({ mtime, ...header }, body ?? "", (err) => (err ? rej(err) : res()));
    });
  const slash = e.path.lastIndexOf("/");
  const dir = slash < 0 ? "" : `${e.path.slice(0, slash + 1)}`;
  const base = e.path.slice(slash + 1);
  switch (e.type) {
    case "dir":
      return add({ name: `${e.path}/`, type: "directory", mode: e.mode ?? 0o755 });
    case "symlink":
      return add({ name: e.path, type: "symlink", linkname: e.target });
    case "link":
      return add({ name: e.path, type: "link", linkname: e.target });
    case "whiteout":
      return add({ name: `${dir}.wh.${base}`, type: "file", mode: 0o644 });
    case "opaque":
      return add({ name: `${e.path}/.wh..wh..opq`, type: "file", mode: 0o644 });
    default: {
      const header = { name: e.path, type: "file" as const, mode: e.mode ?? 0o644, uid: e.uid ?? 0 };
      if (e.body !== undefined) return add(header, e.body);
      const size = e.size ?? 0;
      await new Promise<void>((res, rej) => {
        const s = p.entry({ mtime, ...header, size }, (err) => (err ? rej(err) : res()));
        let left = size;
        const key = createHash("sha256").update(e.path).digest().subarray(0, 16);
        const aes = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
        const more = () => {
          while (left > 0) {
            const n = Math.min(left, 1 << 20);
            left -= n;
            if (!s.write(aes.update(Buffer.alloc(n)))) {
              s.once("drain", more);
              return;
            }
          }
          (s as unknown as NodeJS.WritableStream).end();
        };
        more();
      });
    }
  }
}

/** Writes the layer's tar (gzip or not) to `file`; returns the stored digest and size and the diff_id. */
export async function writeLayer(
  layer: FixtureLayer,
  file: string,
  gzip: boolean,
): Promise<{ digest: string; size: number; diffId: string }> {
  const p = pack();
  const diff = createHash("sha256");
  const stored = createHash("sha256");
  let size = 0;
  const tap = (h: ReturnType<typeof createHash>, count: boolean) =>
    new Transform({
      transform(chunk: Buffer, _e, cb) {
        h.update(chunk);
        if (count) size += chunk.length;
        cb(null, chunk);
      },
    });
  const done = gzip
    ? pipeline(p, tap(diff, false), createGzip(), tap(stored, true), createWriteStream(file))
    : pipeline(p, tap(diff, true), createWriteStream(file));
  for (const e of layer.entries) await writeEntry(p, e);
  p.finalize();
  await done;
  const diffId = `sha256:${diff.digest("hex")}`;
  return { digest: gzip ? `sha256:${stored.digest("hex")}` : diffId, size, diffId };
}

function configOf(image: FixtureImage, diffIds: string[]): Buffer {
  const history: { created_by: string; empty_layer?: true }[] = [];
  for (const [i, l] of image.layers.entries()) {
    for (const e of l.emptyBefore ?? []) history.push({ created_by: e, empty_layer: true });
    history.push({ created_by: l.createdBy ?? `layer ${i}` });
  }
  return Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: {
        User: image.user ?? "",
        Env: ["PATH=/usr/local/bin:/usr/bin:/bin"],
        Cmd: image.cmd ?? ["sh"],
      },
      rootfs: { type: "layers", diff_ids: diffIds },
      history,
    }),
  );
}

const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const hex = (d: string) => d.slice("sha256:".length);

/** An OCI image layout in `dir` (created), gzip layers, tagged `tag` (default "latest"). */
export async function writeOciLayout(dir: string, image: FixtureImage, tag = "latest"): Promise<void> {
  const blobs = join(dir, "blobs", "sha256");
  await mkdir(blobs, { recursive: true });
  const layers: { digest: string; size: number; diffId: string }[] = [];
  for (const [i, l] of image.layers.entries()) {
    const tmp = join(blobs, `.layer-${i}.tmp`);
    const d = await writeLayer(l, tmp, true);
    await rename(tmp, join(blobs, hex(d.digest)));
    layers.push(d);
  }
  const config = configOf(
    image,
    layers.map((l) => l.diffId),
  );
  await writeFile(join(blobs, hex(sha(config))), config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: sha(config),
        size: config.length,
      },
      layers: layers.map((l) => ({
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: l.digest,
        size: l.size,
      })),
    }),
  );
  await writeFile(join(blobs, hex(sha(manifest))), manifest);
  await writeFile(join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: sha(manifest),
          size: manifest.length,
          annotations: { "org.opencontainers.image.ref.name": tag },
        },
      ],
    }),
  );
}

/** Tars every file under `dir` into `file` (streamed). */
async function tarDir(dir: string, file: string): Promise<void> {
  const p = pack();
  const done = pipeline(p, createWriteStream(file));
  const walk = async (d: string): Promise<void> => {
    for (const name of (await readdir(d, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const full = join(d, name.name);
      const rel = relative(dir, full);
      if (name.isDirectory()) {
        await new Promise<void>((res, rej) =>
          p.entry({ name: `${rel}/`, type: "directory", mtime: new Date(0) }, (e) => (e ? rej(e) : res())),
        );
        await walk(full);
      } else {
        const { size } = await stat(full);
        await new Promise<void>((res, rej) => {
          const s = p.entry({ name: rel, size, mtime: new Date(0) }, (e) => (e ? rej(e) : res()));
          createReadStream(full).pipe(s);
        });
      }
    }
  };
  await walk(dir);
  p.finalize();
  await done;
}

export async function writeOciArchive(file: string, image: FixtureImage, tag = "latest"): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "sw-oci-archive-"));
  try {
    await writeOciLayout(dir, image, tag);
    await tarDir(dir, file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A `docker save` archive: `manifest.json`, `<hex>.json`, `<n>/layer.tar` (uncompressed unless gzip). */
export async function writeDockerArchive(
  file: string,
  image: FixtureImage,
  options: { gzip?: boolean; repoTag?: string } = {},
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "sw-docker-archive-"));
  try {
    const diffIds: string[] = [];
    const names: string[] = [];
    for (const [i, l] of image.layers.entries()) {
      await mkdir(join(dir, `l${i}`));
      const d = await writeLayer(l, join(dir, `l${i}`, "layer.tar"), options.gzip ?? false);
      diffIds.push(d.diffId);
      names.push(`l${i}/layer.tar`);
    }
    const config = configOf(image, diffIds);
    const configName = `${hex(sha(config))}.json`;
    await writeFile(join(dir, configName), config);
    await writeFile(
      join(dir, "manifest.json"),
      JSON.stringify([
        { Config: configName, RepoTags: [options.repoTag ?? "fixture:latest"], Layers: names },
      ]),
    );
    await tarDir(dir, file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Checks an OCI layout as a reader that trusts nothing would: `oci-layout` and `index.json` are
 * there, and every blob the index names — each manifest, its config and its layers — exists with
 * the size and sha256 digest its descriptor gives. Returns the manifests' digests; throws naming
 * the first blob that does not match.
 */
export async function verifyOciLayout(dir: string): Promise<string[]> {
  const layout = JSON.parse(await readFile(join(dir, "oci-layout"), "utf8")) as {
    imageLayoutVersion?: string;
  };
  if (layout.imageLayoutVersion !== "1.0.0") throw new Error(`${dir}: oci-layout is not version 1.0.0`);
  type Desc = { digest: string; size: number; mediaType?: string };
  const blob = async (d: Desc): Promise<Buffer> => {
    const [alg, hexDigest] = d.digest.split(":");
    if (alg !== "sha256" || !/^[0-9a-f]{64}$/.test(hexDigest ?? ""))
      throw new Error(`${dir}: bad digest ${d.digest}`);
    const bytes = await readFile(join(dir, "blobs", "sha256", hexDigest!));
    if (bytes.length !== d.size)
      throw new Error(`${dir}: blob ${d.digest} is ${bytes.length} bytes, not ${d.size}`);
    if (sha(bytes) !== d.digest) throw new Error(`${dir}: blob ${d.digest} has digest ${sha(bytes)}`);
    return bytes;
  };
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as { manifests: Desc[] };
  if (!index.manifests?.length) throw new Error(`${dir}: index.json names no manifest`);
  const out: string[] = [];
  for (const m of index.manifests) {
    const manifest = JSON.parse((await blob(m)).toString("utf8")) as { config: Desc; layers: Desc[] };
    await blob(manifest.config);
    if (!manifest.layers?.length) throw new Error(`${dir}: manifest ${m.digest} has no layers`);
    for (const l of manifest.layers) await blob(l);
    out.push(m.digest);
  }
  return out;
}
