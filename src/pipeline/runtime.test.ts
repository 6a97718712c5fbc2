import { describe, expect, it } from "vitest";
import { runtimeJson, runtimeLines } from "../report/runtime.js";
import { candidates, rowLabel } from "./compare.js";
import { resolveRuntime } from "./minimize.js";

describe("resolveRuntime", () => {
  it("is minimal for the slimwheel strategy on glibc, slim for the classic strategies and musl", () => {
    expect(resolveRuntime("slimwheel", undefined, undefined)).toBe("minimal");
    expect(resolveRuntime("slimwheel", undefined, undefined, "musl")).toBe("slim");
    for (const s of ["full", "slim", "slim-apt", "single-layer", "wheels", "venv", "alpine"])
      expect(resolveRuntime(s, undefined, undefined)).toBe("slim");
  });

  it("takes --runtime over [tool.slimwheel] runtime over the default", () => {
    expect(resolveRuntime("slimwheel", undefined, "slim")).toBe("slim");
    expect(resolveRuntime("slimwheel", "minimal", "slim")).toBe("minimal");
    expect(resolveRuntime("slimwheel", "slim", undefined)).toBe("slim");
  });
});

describe("compare rows for the slimwheel strategy's runtimes", () => {
  it("builds slimwheel once per runtime, minimal first, every other strategy once", () => {
    expect(candidates(["venv", "slimwheel"])).toEqual([
      { strategy: "venv", runtime: "slim" },
      { strategy: "slimwheel", runtime: "minimal" },
      { strategy: "slimwheel", runtime: "slim" },
    ]);
    expect(candidates(["slimwheel"], ["slim"])).toEqual([{ strategy: "slimwheel", runtime: "slim" }]);
  });

  it("labels the slim-runtime row slimwheel/slim", () => {
    expect(rowLabel({ strategy: "slimwheel", runtime: "minimal" })).toBe("slimwheel");
    expect(rowLabel({ strategy: "slimwheel", runtime: "slim" })).toBe("slimwheel/slim");
    expect(rowLabel({ strategy: "venv", runtime: "slim" })).toBe("venv");
  });
});

describe("runtimeLines", () => {
  it("says what each layer kept and each group dropped, largest drop first, empty groups left out", () => {
    const lines = runtimeLines({
      layers: [
        { role: "runtime", bytes: 40e6 },
        { role: "app", bytes: 1e5 },
      ] as never,
      dropped: [
        { group: "docs", bytes: 2e6, files: 10, paths: [] },
        { group: "shell & tools", bytes: 30e6, files: 400, paths: [] },
        { group: "other", bytes: 0, files: 0, paths: [] },
      ],
    });
    expect(lines).toEqual([
      "kept 40.1 MB: runtime 40.0 MB, app 0.1 MB",
      "dropped 32.0 MB: shell & tools 30.0 MB (400 files), docs 2.0 MB (10 files)",
    ]);
  });
});

describe("runtimeJson", () => {
  it("counts each layer's files by reason, without reading its file list (a cached closure's is on disk)", () => {
    const layer = (role: string, byReason: object) =>
      Object.defineProperty({ role, bytes: 5, byReason }, "files", {
        get: () => {
          throw new Error("the list was read");
        },
      });
    const json = runtimeJson({
      layers: [
        layer("runtime", { interpreter: { files: 3, bytes: 2 }, elf: { files: 4, bytes: 3 } }),
        layer("app", {}),
      ] as never,
      dropped: [{ group: "docs", bytes: 2, files: 7, paths: [] }],
    });
    expect(json.layers).toEqual([
      { role: "runtime", bytes: 5, files: 7 },
      { role: "app", bytes: 5, files: 0 },
    ]);
    expect(json.dropped).toEqual([{ group: "docs", bytes: 2, files: 7 }]);
  });
});
