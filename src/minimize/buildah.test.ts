import { describe, expect, it } from "vitest";
import { layerEpoch } from "./buildah.js";

describe("layerEpoch", () => {
  const commit = 1_750_000_000; // the last commit
  const base = "2025-01-01T00:00:00Z"; // 1735689600
  // Regression: every layer was clamped to the commit's time, so files installed by the build
  // (passwd/group, site-packages) got a new mtime at every commit and a one-line change re-pushed
  // every lower layer.
  it("clamps the lower layers to the base image's time, whatever the commit", () => {
    for (const role of ["runtime", "system", "dependencies"]) {
      expect(layerEpoch(role, commit, base)).toBe(1735689600);
      expect(layerEpoch(role, commit + 86_400, base)).toBe(1735689600);
    }
  });
  it("clamps the app layer to the commit", () => {
    expect(layerEpoch("app", commit, base)).toBe(commit);
  });
  it("never goes past SOURCE_DATE_EPOCH: a commit older than the base wins", () => {
    expect(layerEpoch("dependencies", 1_000, base)).toBe(1_000);
  });
  it("takes SOURCE_DATE_EPOCH when the base says no (or no valid) time", () => {
    expect(layerEpoch("system", commit, undefined)).toBe(commit);
    expect(layerEpoch("system", commit, "yesterday")).toBe(commit);
    expect(layerEpoch("system", commit, "1970-01-01T00:00:00Z")).toBe(0);
  });
});
