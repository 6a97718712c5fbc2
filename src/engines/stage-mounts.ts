/**
 * buildah ≤ 1.28 (Debian 12; podman 4.3 uses it) cannot bind-mount a stage that came from its
 * layer cache (`RUN --mount=type=bind,from=STAGE` finds nothing: buildah issue 4375) and reuses
 * such RUN layers after the stage changed (4522). The workaround: build each mounted stage as an
 * image of its own first, then mount that image, named by its ID, so the RUN line's text (and so
 * its cache key) changes exactly when the stage's content does. Which stages are mounted comes
 * from the plan (`BuildRequest.mountedStages`), never from the Dockerfile's text.
 */

/** The Dockerfile with `from=STAGE` in mounts replaced by `from=IMAGE` for the given stages. */
export function mountImagesInstead(dockerfile: string, images: Readonly<Record<string, string>>): string {
  return dockerfile.replace(/(--mount=[^\s]*\bfrom=)([^,\s]+)/g, (all, head: string, stage: string) =>
    images[stage] ? `${head}${images[stage]}` : all,
  );
}
