import { describe, expect, it } from "vitest";
import { mountImagesInstead } from "./stage-mounts.js";
import { stageImageRef } from "./types.js";

const df = `ARG B
FROM \${B} AS deps
RUN pip wheel -w /wheels x
FROM python:3.11-slim AS final
RUN --mount=type=bind,from=deps,source=/wheels,target=/wheels \\
    --mount=type=bind,from=docker.io/library/alpine:3,source=/etc,target=/x \\
    --mount=type=cache,target=/root/.cache/pip \\
    pip install /wheels/*.whl
`;

describe("stage bind mounts (the buildah 1.28 workaround)", () => {
  it("replaces only those stage names by image references", () => {
    const out = mountImagesInstead(df, { deps: "localhost/slimwheel-stage:deps-abc" });
    expect(out).toContain("from=localhost/slimwheel-stage:deps-abc,source=/wheels");
    expect(out).toContain("from=docker.io/library/alpine:3,source=/etc");
    expect(out.split("\n").length).toBe(df.split("\n").length);
  });
  it("names a stage image by its ID, with or without the sha256: prefix", () => {
    const id = "0123456789abcdef".repeat(4);
    expect(stageImageRef("deps", `sha256:${id}`)).toBe("localhost/slimwheel-stage:deps-0123456789abcdef");
    expect(stageImageRef("deps", id)).toBe(stageImageRef("deps", `sha256:${id}`));
  });
});
