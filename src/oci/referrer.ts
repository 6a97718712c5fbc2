/**
 * Attaching a file (an SBOM) to a pushed image as an OCI 1.1 referrer: an image manifest whose
 * `artifactType` says what it carries, whose config is the empty descriptor
 * (`application/vnd.oci.empty.v1+json`, the two bytes `{}`), whose one layer is the file, and whose
 * `subject` is the image's manifest (image-spec `manifest.md`, "Guidelines for Artifact Usage").
 *
 * Registries with the referrers API (distribution-spec 1.1, `GET /v2/NAME/referrers/DIGEST`) index
 * it themselves. For those without it, the spec's fallback is kept too: an image index tagged
 * `sha256-<hex of the subject digest>` listing the referrers, fetched, extended and pushed again.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isSlimwheelError } from "../errors.js";
import { blobFile, canonicalJson, sha256, writeBytesBlob } from "./blob.js";
import { rfc3339 } from "./image-writer.js";
import type { RegistryClient } from "./registry.js";
import { type Descriptor, MediaType } from "./types.js";

export const EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json";
const EMPTY = Buffer.from("{}");

/** The empty descriptor of image-spec 1.1 (with its two bytes inline as `data`). */
export const EMPTY_DESCRIPTOR = {
  mediaType: EMPTY_MEDIA_TYPE,
  digest: sha256(EMPTY),
  size: 2,
  data: EMPTY.toString("base64"),
} as const;

export interface Artifact {
  readonly bytes: Buffer;
  /** The file's media type, also the manifest's artifactType (`application/vnd.cyclonedx+json`). */
  readonly mediaType: string;
  /** Its file name (`org.opencontainers.image.title` of the layer). */
  readonly title: string;
  /** Seconds since the epoch: `org.opencontainers.image.created` (SOURCE_DATE_EPOCH for reproducible bytes). */
  readonly created?: number;
}

export interface ReferrerManifest {
  readonly bytes: Buffer;
  readonly descriptor: Descriptor & { readonly artifactType: string };
  readonly json: Record<string, unknown>;
}

/** The referrer manifest of `artifact` about `subject` (canonical JSON: the same inputs give the same digest). */
export function referrerManifest(subject: Descriptor, artifact: Artifact): ReferrerManifest {
  const layer: Descriptor = {
    mediaType: artifact.mediaType,
    digest: sha256(artifact.bytes),
    size: artifact.bytes.length,
    annotations: { "org.opencontainers.image.title": artifact.title },
  };
  const annotations =
    artifact.created === undefined
      ? undefined
      : { "org.opencontainers.image.created": rfc3339(artifact.created) };
  const json = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: artifact.mediaType,
    config: EMPTY_DESCRIPTOR,
    layers: [layer],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    ...(annotations ? { annotations } : {}),
  };
  const bytes = Buffer.from(canonicalJson(json));
  return {
    bytes,
    json,
    descriptor: {
      mediaType: MediaType.ociManifest,
      artifactType: artifact.mediaType,
      digest: sha256(bytes),
      size: bytes.length,
      ...(annotations ? { annotations } : {}),
    },
  };
}

/** The fallback tag of the referrers of `digest`: `sha256-<hex>`. */
export const referrersTag = (digest: string) => digest.replace(":", "-");

export interface PushedReferrer {
  readonly digest: string;
  readonly manifest: ReferrerManifest;
  /** The fallback tag updated, when the registry has no referrers API. */
  readonly fallbackTag?: string;
}

/**
 * Pushes `artifact` to `repo` as a referrer of `subject` (a manifest already pushed there): the
 * empty config and the file as blobs, then the manifest by digest; then the fallback index when
 * the registry does not answer the referrers API.
 */
export async function pushReferrer(
  client: RegistryClient,
  repo: string,
  subject: Descriptor,
  artifact: Artifact,
): Promise<PushedReferrer> {
  const manifest = referrerManifest(subject, artifact);
  const store = await mkdtemp(join(tmpdir(), "slimwheel-referrer-"));
  try {
    for (const [bytes, mediaType] of [
      [EMPTY, EMPTY_MEDIA_TYPE],
      [artifact.bytes, artifact.mediaType],
    ] as const) {
      const d = await writeBytesBlob(bytes, mediaType, store);
      await client.pushBlob(repo, d, blobFile(store, d.digest));
    }
  } finally {
    await rm(store, { recursive: true, force: true });
  }
  const digest = await client.putManifest(
    repo,
    manifest.descriptor.digest,
    manifest.bytes,
    MediaType.ociManifest,
  );
  if (await hasReferrersApi(client, repo, subject.digest)) return { digest, manifest };
  const tag = referrersTag(subject.digest);
  let manifests: Descriptor[] = [];
  try {
    const current = await client.getManifest(repo, tag);
    const index = JSON.parse(current.bytes.toString("utf8")) as { manifests?: Descriptor[] };
    manifests = Array.isArray(index.manifests) ? index.manifests : [];
  } catch (e) {
    if (!isSlimwheelError(e) || e.code !== "not-found") throw e;
  }
  if (!manifests.some((m) => m.digest === manifest.descriptor.digest)) {
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [...manifests, manifest.descriptor],
    };
    await client.putManifest(repo, tag, Buffer.from(canonicalJson(index)), MediaType.ociIndex);
  }
  return { digest, manifest, fallbackTag: tag };
}

/** Whether `GET /v2/REPO/referrers/DIGEST` answers with an image index (distribution-spec 1.1). */
async function hasReferrersApi(client: RegistryClient, repo: string, digest: string): Promise<boolean> {
  const res = await client.send({
    method: "GET",
    url: client.url(`/v2/${repo}/referrers/${digest}`),
    scopes: [`repository:${repo}:pull`],
    doing: `listing the referrers of ${client.host}/${repo}@${digest}`,
    repository: repo,
    headers: { accept: MediaType.ociIndex },
  });
  const type = res.headers.get("content-type") ?? "";
  await res.body?.cancel().catch(() => undefined);
  return res.status === 200 && type.startsWith(MediaType.ociIndex);
}
