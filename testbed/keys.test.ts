import { describe, expect, it } from "vitest";
import { imageKey } from "./base-images.js";
import { imageSpecs } from "./images.js";
import { indexKey } from "./package-index.js";

// The cache keys name the images and the index every machine already has: a change here rebuilds
// them all. These values were computed by the keys' original code (before testbed.ts was split).
describe("the test bed's cache keys stay what they were", () => {
  it("base image key", () => {
    const runtime = imageSpecs("3.11").find((s) => s.name === "runtime")!;
    expect(imageKey(runtime, { archive: "http://mirror.example/debian" }, "amd64")).toBe("b230bb2576e6798e");
  });
  it("package index key", () => {
    expect(indexKey(new Map([["python3-flask", "2.2.2-3"]]), "abc", "amd64")).toBe("4986205b5a72491c");
  });
});
