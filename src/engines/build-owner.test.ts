import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BUILD_ID_ARG, newBuildId, ownArgWarning, ownedBy, recordedArgs } from "./build-owner.js";

describe("newBuildId", () => {
  it("names the process and differs between builds", () => {
    const a = newBuildId(4242);
    expect(a).toMatch(/^slimwheel-4242-[0-9a-f]{8}$/);
    expect(newBuildId(4242)).not.toBe(a);
  });
});

describe("ownedBy", () => {
  const list = [
    { id: "a", builder: true, containername: "python-working-container" },
    { id: "b", builder: true, containername: "python-working-container-1" },
    { id: "c", builder: true, containername: "python-working-container-2" },
    { id: "d", builder: false, containername: "podman-made" },
    { id: "e", builder: true, containername: "gone" },
  ];
  const args: Record<string, Record<string, string> | undefined> = {
    a: { [BUILD_ID_ARG]: "slimwheel-1-aaaaaaaa", PYTHON_VERSION: "3.11" },
    b: { [BUILD_ID_ARG]: "slimwheel-2-bbbbbbbb" },
    c: { PYTHON_VERSION: "3.11" }, // another tool's build: no id
    d: { [BUILD_ID_ARG]: "slimwheel-1-aaaaaaaa" }, // not a buildah builder container
    e: undefined, // removed while listing
  };
  const argsOf = async (id: string) => args[id];

  it("keeps only the containers that carry this build's id", async () => {
    expect(await ownedBy(list, "slimwheel-1-aaaaaaaa", argsOf)).toEqual(["a"]);
    expect(await ownedBy(list, "slimwheel-2-bbbbbbbb", argsOf)).toEqual(["b"]);
    expect(await ownedBy(list, "slimwheel-3-cccccccc", argsOf)).toEqual([]);
  });

  it("takes a test over ids (every build of one process)", async () => {
    expect(await ownedBy(list, (id) => id.startsWith("slimwheel-"), argsOf)).toEqual(["a", "b"]);
  });
});

describe("recordedArgs", () => {
  it("reads Args from the container's buildah.json, undefined when missing or broken", async () => {
    const root = await mkdtemp(join(tmpdir(), "build-owner-"));
    try {
      const dir = (id: string) => join(root, "overlay-containers", id, "userdata");
      await mkdir(dir("x"), { recursive: true });
      await writeFile(
        join(dir("x"), "buildah.json"),
        JSON.stringify({ Args: { [BUILD_ID_ARG]: "v" }, type: "x" }),
      );
      await mkdir(dir("y"), { recursive: true });
      await writeFile(join(dir("y"), "buildah.json"), "{ truncated");
      const storage = { graphRoot: root, driver: "overlay" };
      expect(await recordedArgs(storage, "x")).toEqual({ [BUILD_ID_ARG]: "v" });
      expect(await recordedArgs(storage, "y")).toBeUndefined();
      expect(await recordedArgs(storage, "z")).toBeUndefined();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("ownArgWarning", () => {
  const w = "[Warning] one or more build args were not consumed: ";
  it("drops the warning when our argument was the only one", () => {
    expect(ownArgWarning(`${w}[${BUILD_ID_ARG}]`)).toBeUndefined();
  });
  it("keeps the user's own unconsumed arguments", () => {
    expect(ownArgWarning(`${w}[FOO ${BUILD_ID_ARG} BAR]`)).toBe(`${w}[FOO BAR]`);
  });
  it("passes other lines through", () => {
    expect(ownArgWarning("STEP 1/4: FROM python")).toBe("STEP 1/4: FROM python");
    expect(ownArgWarning(`${w}[FOO]`)).toBe(`${w}[FOO]`);
  });
});
