import { describe, expect, it } from "vitest";
import { transportRef } from "./types.js";

describe("transportRef", () => {
  it("names every export format as buildah push / skopeo copy take it", () => {
    expect(transportRef({ kind: "oci-dir", path: "/o/img" })).toBe("oci:/o/img");
    expect(transportRef({ kind: "oci-archive", path: "/o/img.tar" })).toBe("oci-archive:/o/img.tar");
    expect(transportRef({ kind: "docker-archive", path: "/o/img.tar" })).toBe("docker-archive:/o/img.tar");
    expect(transportRef({ kind: "docker-archive", path: "/o/img.tar", tag: "app:1" })).toBe(
      "docker-archive:/o/img.tar:app:1",
    );
  });
});
