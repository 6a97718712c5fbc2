/**
 * A blob store: a directory holding `sha256/<hex>` files, the shape of an OCI layout's `blobs/`
 * (so `<layout>/blobs` is a blob store). Every blob is written to a temporary file and renamed
 * to its digest once complete, so a store never holds a partial blob under a digest name.
 *
 * Layers are gzip-compressed with node's zlib at a fixed level; node writes no file name and a
 * zero mtime in the gzip header, so the same tar gives the same blob with the same zlib. zstd is
 * not offered: node 20's zlib has no zstd (it came in node 22.15 / 23.8).
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { SlimwheelError } from "../errors.js";
import { type Descriptor, MediaType } from "./types.js";

/** The gzip level of every layer slimwheel writes: zlib's default, as registries' clients use. */
export const GZIP_LEVEL = 6;

export interface LayerBlob extends Descriptor {
  /** sha256 of the uncompressed tar: the config's `rootfs.diff_ids` entry. */
  readonly diffId: string;
  readonly uncompressedSize: number;
}

const DIGEST = /^sha256:([0-9a-f]{64})$/;

/** The file of `digest` in the blob store `store`. */
export function blobFile(store: string, digest: string): string {
  const m = DIGEST.exec(digest);
  if (!m)
    throw new SlimwheelError("input", `"${digest}" is not a sha256 digest`, {
      hint: "digests look like sha256: followed by 64 hex digits",
    });
  return join(store, "sha256", m[1]!);
}

function hashing(hash: ReturnType<typeof createHash>, count: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      count(chunk.length);
      cb(null, chunk);
    },
  });
}

const tempName = (store: string) => join(store, `.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);

async function storeTemp(store: string, tmp: string, digest: string): Promise<string> {
  const file = blobFile(store, digest);
  await mkdir(join(store, "sha256"), { recursive: true });
  await rename(tmp, file);
  return file;
}

/**
 * Streams a tar through gzip into the store, computing in the same pass the diff_id (sha256 of
 * the tar), the digest and the size of the compressed blob.
 */
export async function writeLayerBlob(tar: Readable, store: string): Promise<LayerBlob> {
  await mkdir(store, { recursive: true });
  const tmp = tempName(store);
  const diff = createHash("sha256");
  const compressed = createHash("sha256");
  let uncompressedSize = 0;
  let size = 0;
  try {
    await pipeline(
      tar,
      hashing(diff, (n) => (uncompressedSize += n)),
      createGzip({ level: GZIP_LEVEL }),
      hashing(compressed, (n) => (size += n)),
      createWriteStream(tmp),
    );
    const digest = `sha256:${compressed.digest("hex")}`;
    await storeTemp(store, tmp, digest);
    return {
      mediaType: MediaType.ociLayerGzip,
      digest,
      size,
      diffId: `sha256:${diff.digest("hex")}`,
      uncompressedSize,
    };
  } catch (e) {
    await rm(tmp, { force: true });
    if (e instanceof SlimwheelError) throw e;
    throw new SlimwheelError("io", `writing a layer to ${store}: ${(e as Error).message}`, { cause: e });
  }
}

/** Stores bytes (a config, a manifest) and returns their descriptor. */
export async function writeBytesBlob(bytes: Buffer, mediaType: string, store: string): Promise<Descriptor> {
  const digest = sha256(bytes);
  const file = blobFile(store, digest);
  const existing = await stat(file).catch(() => undefined);
  if (existing?.size !== bytes.length) {
    await mkdir(store, { recursive: true });
    const tmp = tempName(store);
    await writeFile(tmp, bytes);
    await storeTemp(store, tmp, digest);
  }
  return { mediaType, digest, size: bytes.length };
}

export const sha256 = (bytes: Buffer | string): string =>
  `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/**
 * JSON with object keys sorted (recursively) and no whitespace: the same value always gives the
 * same bytes, so the same image gives the same digests.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}
