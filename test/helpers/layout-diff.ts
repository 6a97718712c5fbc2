/**
 * Compares the images of two OCI layout directories, for the reproducibility test and bench: the
 * manifest digests, and when they differ, what differs — the config (field by field), and each
 * layer (its index in the manifest, the history entry that made it, both digests and, when the
 * tars differ, the first differing tar entry: its path and what of it differs).
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createGunzip } from "node:zlib";
import { extract } from "tar-stream";

interface Descriptor {
  readonly mediaType?: string;
  readonly digest: string;
  readonly size: number;
}

interface Manifest {
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly manifests?: readonly Descriptor[];
}

interface History {
  readonly created?: string;
  readonly created_by?: string;
  readonly comment?: string;
  readonly empty_layer?: boolean;
}

export interface LayoutImage {
  readonly dir: string;
  readonly manifestDigest: string;
  readonly manifest: Manifest;
  readonly config: Record<string, unknown> & { history?: History[]; rootfs?: { diff_ids?: string[] } };
}

const blob = (dir: string, digest: string) => join(dir, "blobs", "sha256", digest.slice("sha256:".length));

/** The (first) image of an OCI layout, through one level of index. */
export async function readLayoutImage(dir: string): Promise<LayoutImage> {
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as Manifest;
  let desc = index.manifests?.[0];
  if (!desc) throw new Error(`${dir}/index.json lists no manifest`);
  let manifest = JSON.parse(await readFile(blob(dir, desc.digest), "utf8")) as Manifest;
  if (manifest.manifests) {
    desc = manifest.manifests[0]!;
    manifest = JSON.parse(await readFile(blob(dir, desc.digest), "utf8")) as Manifest;
  }
  const config = JSON.parse(
    await readFile(blob(dir, manifest.config.digest), "utf8"),
  ) as LayoutImage["config"];
  return { dir, manifestDigest: desc.digest, manifest, config };
}

/** The history entries that made layers (not `empty_layer`), in layer order. */
export function layerHistory(config: LayoutImage["config"]): History[] {
  return (config.history ?? []).filter((h) => !h.empty_layer);
}

interface TarEntrySummary {
  readonly name: string;
  readonly header: string;
  readonly sha256: string;
}

/** Every entry of a (gzipped or plain) layer tar: name, the header fields that matter, content digest. */
export async function tarEntries(file: string): Promise<TarEntrySummary[]> {
  const head = await new Promise<Buffer>((resolve, reject) => {
    const s = createReadStream(file, { start: 0, end: 1 });
    const parts: Buffer[] = [];
    s.on("data", (c) => parts.push(c as Buffer));
    s.on("end", () => resolve(Buffer.concat(parts)));
    s.on("error", reject);
  });
  const gz = head[0] === 0x1f && head[1] === 0x8b;
  const out: TarEntrySummary[] = [];
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on("entry", (h, stream, next) => {
      const hash = createHash("sha256");
      stream.on("data", (c) => hash.update(c as Buffer));
      stream.on("end", () => {
        const { name, type, mode, uid, gid, uname, gname, size, linkname } = h;
        const mtime = h.mtime ? Math.floor(h.mtime.getTime() / 1000) : undefined;
        const pax = h.pax ? JSON.stringify(h.pax) : "";
        out.push({
          name,
          header: JSON.stringify({ type, mode, uid, gid, uname, gname, size, mtime, linkname, pax }),
          sha256: hash.digest("hex"),
        });
        next();
      });
      stream.on("error", reject);
    });
    ex.on("finish", resolve);
    ex.on("error", reject);
  });
  const src = createReadStream(file);
  if (gz) src.pipe(createGunzip()).pipe(ex);
  else src.pipe(ex);
  await done;
  return out;
}

/** The first entry that differs between two layer blobs, said in one line; undefined when none does. */
export async function firstTarDifference(a: string, b: string): Promise<string | undefined> {
  const [ea, eb] = await Promise.all([tarEntries(a), tarEntries(b)]);
  for (let i = 0; i < Math.max(ea.length, eb.length); i++) {
    const x = ea[i];
    const y = eb[i];
    if (!x || !y)
      return `entry #${i}: ${x ? `only the first has ${x.name}` : `only the second has ${y!.name}`}`;
    if (x.name !== y.name) return `entry #${i}: ${x.name} vs ${y.name} (different files or order)`;
    if (x.header !== y.header) return `entry #${i} ${x.name}: header ${x.header} vs ${y.header}`;
    if (x.sha256 !== y.sha256)
      return `entry #${i} ${x.name}: content differs (sha256 ${x.sha256} vs ${y.sha256})`;
  }
  return undefined;
}

/** Top-level config fields (and config.config fields) whose JSON differs. */
function configDifferences(a: LayoutImage["config"], b: LayoutImage["config"]): string[] {
  const out: string[] = [];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of [...keys].sort()) {
    if (k === "rootfs") continue;
    const x = a[k];
    const y = b[k];
    if (k === "config" && x && y && typeof x === "object" && typeof y === "object") {
      const cx = x as Record<string, unknown>;
      const cy = y as Record<string, unknown>;
      for (const ck of [...new Set([...Object.keys(cx), ...Object.keys(cy)])].sort())
        if (JSON.stringify(cx[ck]) !== JSON.stringify(cy[ck]))
          out.push(`config.${ck}: ${JSON.stringify(cx[ck])} vs ${JSON.stringify(cy[ck])}`);
    } else if (JSON.stringify(x) !== JSON.stringify(y))
      out.push(`${k}: ${JSON.stringify(x)?.slice(0, 300)} vs ${JSON.stringify(y)?.slice(0, 300)}`);
  }
  return out;
}

/**
 * What differs between the images of two layouts, one line each; empty when the manifest digests
 * are equal. `deep`: look into differing layers for the first differing tar entry.
 */
export async function diffLayouts(dirA: string, dirB: string, deep = true): Promise<string[]> {
  const [a, b] = await Promise.all([readLayoutImage(dirA), readLayoutImage(dirB)]);
  if (a.manifestDigest === b.manifestDigest) return [];
  const out = [`manifest ${a.manifestDigest} vs ${b.manifestDigest}`];
  if (a.manifest.layers.length !== b.manifest.layers.length)
    out.push(`layer count ${a.manifest.layers.length} vs ${b.manifest.layers.length}`);
  const ha = layerHistory(a.config);
  const hb = layerHistory(b.config);
  for (let i = 0; i < Math.min(a.manifest.layers.length, b.manifest.layers.length); i++) {
    const la = a.manifest.layers[i]!;
    const lb = b.manifest.layers[i]!;
    if (la.digest === lb.digest) continue;
    const h = ha[i] ?? hb[i];
    const what = [h?.created_by, h?.comment].filter(Boolean).join(" — ") || "(no history entry)";
    const diffIds = [a.config.rootfs?.diff_ids?.[i], b.config.rootfs?.diff_ids?.[i]];
    let line = `layer ${i} (${what}): ${la.digest} vs ${lb.digest}`;
    if (diffIds[0] === diffIds[1]) line += " (same tar, compressed differently)";
    else if (deep) {
      const first = await firstTarDifference(blob(dirA, la.digest), blob(dirB, lb.digest)).catch(
        (e: unknown) => `cannot compare the tars: ${(e as Error).message}`,
      );
      line += first
        ? `; first difference: ${first}`
        : "; the tars' entries are equal (bytes differ elsewhere)";
    }
    out.push(line);
  }
  if (a.manifest.config.digest !== b.manifest.config.digest) {
    const fields = configDifferences(a.config, b.config);
    out.push(
      `config ${a.manifest.config.digest} vs ${b.manifest.config.digest}: ${fields.join("; ") || "(only rootfs)"}`,
    );
  }
  return out;
}
