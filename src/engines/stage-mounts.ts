/**
 * buildah ≤ 1.28 (Debian 12; podman 4.3 uses it) cannot bind-mount a stage that came from its
 * layer cache (`RUN --mount=type=bind,from=STAGE` finds nothing: buildah issue 4375) and reuses
 * such RUN layers after the stage changed (4522). The workaround: build each mounted stage as an
 * image of its own first, then mount that image, named by its ID, so the RUN line's text (and so
 * its cache key) changes exactly when the stage's content does.
 */

/** Stages named in `--mount=…,from=STAGE` (not images: those contain '/' or ':'). */
export function mountedStages(dockerfile: string): string[] {
  const stages = new Set(
    [...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]!.toLowerCase()),
  );
  const out = new Set<string>();
  for (const m of dockerfile.matchAll(/--mount=[^\s]*\bfrom=([^,\s]+)/g)) {
    if (stages.has(m[1]!.toLowerCase())) out.add(m[1]!);
  }
  return [...out];
}

/** The local reference of a stage's image, named by its ID (so a mount's text changes with the stage). */
export const stageImageRef = (stage: string, imageId: string): string =>
  `localhost/slimwheel-stage:${stage}-${imageId.replace(/^sha256:/, "").slice(0, 16)}`;

/** The Dockerfile up to the end of stage `target` (later stages cannot be needed to build it). */
export function upToStage(dockerfile: string, target: string | undefined): string {
  if (!target) return dockerfile;
  const froms = [...dockerfile.matchAll(/^FROM\s+\S+(?:\s+AS\s+(\S+))?/gim)];
  const i = froms.findIndex((m) => m[1]?.toLowerCase() === target.toLowerCase());
  const next = i >= 0 ? froms[i + 1] : undefined;
  return next?.index !== undefined ? dockerfile.slice(0, next.index) : dockerfile;
}

/** The Dockerfile with `from=STAGE` in mounts replaced by `from=IMAGE` for the given stages. */
export function mountImagesInstead(dockerfile: string, images: Readonly<Record<string, string>>): string {
  return dockerfile.replace(/(--mount=[^\s]*\bfrom=)([^,\s]+)/g, (all, head: string, stage: string) =>
    images[stage] ? `${head}${images[stage]}` : all,
  );
}
