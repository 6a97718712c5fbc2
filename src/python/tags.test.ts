import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isSlimwheelError } from "../errors.js";
import { compatibleTags, platformTags, wheelRank } from "./tags.js";
import { parseSdistFilename, parseWheelFilename, tagString } from "./wheel-filename.js";

const debian12 = { python: "3.11", arch: "x86_64", libc: { kind: "glibc", version: "2.36" } } as const;

describe("wheel and sdist file names", () => {
  it("parses a wheel with a compressed tag set and a build tag", () => {
    const w = parseWheelFilename("Django_Foo-4.2.1-1-py2.py3-none-any.whl");
    expect(w.key).toBe("django-foo");
    expect(w.version).toBe("4.2.1");
    expect(w.build).toBe("1");
    expect(w.tags.map(tagString)).toEqual(["py2-none-any", "py3-none-any"]);
  });

  it.each([
    ["foo-1.0.tar.gz", "not a valid wheel file name: it does not end in .whl"],
    ["foo-1.0-py3-none.whl", "expected 5 or 6"],
    ["foo-banana-py3-none-any.whl", "not a PEP 440 version"],
    ["foo-1.0-x1-py3-none-any.whl", "must start with a digit"],
    ["../evil-1.0-py3-none-any.whl", "bad name"],
  ])("rejects %s", (name, why) => {
    expect(() => parseWheelFilename(name)).toThrow(why);
  });

  it("parses sdists, including legacy names with dashes", () => {
    expect(parseSdistFilename("yamlinfo-1.0.0.tar.gz")).toMatchObject({ key: "yamlinfo", version: "1.0.0" });
    expect(parseSdistFilename("python-dateutil-2.8.2.tar.gz")).toMatchObject({
      name: "python-dateutil",
      version: "2.8.2",
    });
    expect(() => parseSdistFilename("noversion.tar.gz")).toThrow("no version");
  });

  it("never throws anything but the typed error on arbitrary names (fuzz)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        for (const f of [parseWheelFilename, parseSdistFilename]) {
          try {
            f(s);
          } catch (e) {
            if (!isSlimwheelError(e)) throw e;
          }
        }
      }),
      { numRuns: 5000 },
    );
  });
});

describe("compatible tags", () => {
  it("orders manylinux tags from the target glibc down, with legacy aliases", () => {
    const p = platformTags(debian12);
    expect(p[0]).toBe("manylinux_2_36_x86_64");
    expect(p.indexOf("manylinux2014_x86_64")).toBe(p.indexOf("manylinux_2_17_x86_64") + 1);
    expect(p.slice(-3)).toEqual(["manylinux_2_5_x86_64", "manylinux1_x86_64", "linux_x86_64"]);
    const arm = platformTags({ ...debian12, arch: "aarch64" });
    expect(arm.at(-2)).toBe("manylinux2014_aarch64");
    expect(arm.some((t) => t.includes("manylinux1"))).toBe(false);
  });

  it("gives musl targets only musllinux tags", () => {
    const p = platformTags({ python: "3.12", arch: "x86_64", libc: { kind: "musl", version: "1.2" } });
    expect(p).toEqual([
      "musllinux_1_2_x86_64",
      "musllinux_1_1_x86_64",
      "musllinux_1_0_x86_64",
      "linux_x86_64",
    ]);
  });

  it("matches packaging's order for CPython", () => {
    const tags = compatibleTags(debian12).map(tagString);
    expect(tags[0]).toBe("cp311-cp311-manylinux_2_36_x86_64");
    expect(tags.indexOf("cp311-abi3-manylinux_2_36_x86_64")).toBeGreaterThan(
      tags.indexOf("cp311-cp311-linux_x86_64"),
    );
    expect(tags.indexOf("cp32-abi3-linux_x86_64")).toBeLessThan(
      tags.indexOf("py311-none-manylinux_2_36_x86_64"),
    );
    expect(tags.slice(-15, -13)).toEqual(["py30-none-linux_x86_64", "cp311-none-any"]);
    expect(tags.at(-1)).toBe("py30-none-any");
    expect(new Set(tags).size).toBe(tags.length);
  });

  it("ranks wheels: compiled manylinux beats pure, incompatible ones are undefined", () => {
    const accepted = compatibleTags(debian12);
    const rank = (f: string) => wheelRank(parseWheelFilename(f).tags, accepted);
    const numpy = rank("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
    const pure = rank("flask-2.2.2-py3-none-any.whl");
    expect(numpy).toBeDefined();
    expect(numpy!).toBeLessThan(pure!);
    expect(rank("numpy-1.26.4-cp311-cp311-musllinux_1_1_x86_64.whl")).toBeUndefined();
    expect(rank("numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.whl")).toBeUndefined();
    expect(rank("x-1.0-cp311-cp311-manylinux_2_38_x86_64.whl")).toBeUndefined();
  });
});
