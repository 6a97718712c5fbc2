/**
 * An image's referrers as a client finds them in the test bed's registry (docs/sbom.md): through
 * the referrers API, else (docker-registry 2.8 has none) the distribution spec's fallback tag
 * `sha256-<hex>`; and a referrer's manifest with its first layer's text (e.g. an SBOM).
 */
import { expect } from "vitest";

const INDEX = "application/vnd.oci.image.index.v1+json";
const MANIFEST = "application/vnd.oci.image.manifest.v1+json";

export interface ReferrerList {
  readonly manifests: readonly { readonly digest: string; readonly artifactType?: string }[];
}

export interface ReferrerManifestJson {
  readonly subject: { readonly digest: string; readonly mediaType: string; readonly size: number };
  readonly layers: readonly { readonly digest: string; readonly mediaType: string }[];
}

/** The referrers of the manifest `subject` in `repo` of the registry at `url` (http://HOST). */
export async function referrersOf(url: string, repo: string, subject: string): Promise<ReferrerList> {
  const base = `${url}/v2/${repo}`;
  let res = await fetch(`${base}/referrers/${subject}`, { headers: { accept: INDEX } });
  if (!(res.ok && (res.headers.get("content-type") ?? "").startsWith(INDEX))) {
    await res.body?.cancel();
    res = await fetch(`${base}/manifests/${subject.replace(":", "-")}`, { headers: { accept: INDEX } });
  }
  expect(res.status).toBe(200);
  return (await res.json()) as ReferrerList;
}

/** The referrer manifest `digest` of `repo`, and the text of its first layer. */
export async function referrerLayer(
  url: string,
  repo: string,
  digest: string,
): Promise<{ manifest: ReferrerManifestJson; text: string }> {
  const base = `${url}/v2/${repo}`;
  const res = await fetch(`${base}/manifests/${digest}`, { headers: { accept: MANIFEST } });
  expect(res.status).toBe(200);
  const manifest = (await res.json()) as ReferrerManifestJson;
  const blob = await fetch(`${base}/blobs/${manifest.layers[0]!.digest}`);
  expect(blob.status).toBe(200);
  return { manifest, text: await blob.text() };
}
