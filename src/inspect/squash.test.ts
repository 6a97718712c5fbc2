import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type FixtureEntry, type FixtureLayer, writeOciLayout } from "../../test/helpers/oci-image.js";
import type { LayerEntry } from "../oci/layer.js";
import { openImageSource, parseImageRef } from "../oci/ref.js";
import { inspectImage } from "./inspect.js";
import { Squash } from "./squash.js";

const file = (path: string, size: number): LayerEntry => ({
  path,
  type: "file",
  size,
  mode: 0o644,
  uid: 0,
  gid: 0,
});
const dir = (path: string): LayerEntry => ({ path, type: "directory", size: 0, mode: 0o755, uid: 0, gid: 0 });
const wh = (path: string): LayerEntry => {
  const i = path.lastIndexOf("/");
  return file(`${path.slice(0, i + 1)}.wh.${path.slice(i + 1)}`, 0);
};
const opq = (path: string): LayerEntry => file(`${path}/.wh..wh..opq`, 0);

describe("Squash", () => {
  it("counts a file deleted by a later whiteout once, in the layer that wrote it", () => {
    const s = new Squash();
    s.apply(0, [dir("usr"), dir("usr/bin"), file("usr/bin/gcc", 1000), file("usr/bin/keep", 10)]);
    s.apply(1, [wh("usr/bin/gcc")]);
    s.apply(2, [wh("usr/bin/gcc")]); // a second whiteout of the same path deletes nothing more
    expect(s.wastedBytes).toBe(1000);
    expect(s.waste).toEqual([
      { path: "usr/bin/gcc", bytes: 1000, writtenIn: 0, removedIn: 1, how: "deleted" },
    ]);
    expect(s.layers.map((l) => l.wastedBytes)).toEqual([1000, 0, 0]);
    expect(s.layers[1]).toMatchObject({ removed: 1, whiteouts: 1 });
    expect([...s.files()].map(([p]) => p).sort()).toEqual(["usr", "usr/bin", "usr/bin/keep"]);
  });

  it("applies a layer's whiteouts before its entries, opaque dirs hide only the layers below", () => {
    const s = new Squash();
    s.apply(0, [file("a/x", 5), file("a/y", 7), file("b", 3)]);
    // tar order puts the new file before the opaque marker: the new file survives
    s.apply(1, [file("a/z", 11), opq("a"), file("b", 4), wh("b")]);
    expect(s.wastedBytes).toBe(5 + 7 + 3);
    expect(s.get("a/z")?.size).toBe(11);
    expect(s.get("b")?.size).toBe(4);
    expect(s.layers[1]).toMatchObject({ added: 2, changed: 0, removed: 3, opaqueDirs: 1, whiteouts: 1 });
  });

  it("counts an overwrite within the same layer, a directory replaced by a file, and hardlinks as 0", () => {
    const s = new Squash();
    s.apply(0, [
      file("f", 10),
      file("f", 20),
      file("d/one", 1),
      file("d/two", 2),
      { path: "h", type: "link", size: 0, mode: 0o644, uid: 0, gid: 0, linkname: "f" },
    ]);
    s.apply(1, [file("d", 100), file("h", 0)]);
    expect(s.waste.map((w) => [w.path, w.how])).toEqual([
      ["f", "overwritten"],
      ["d/one", "replaced"],
      ["d/two", "replaced"],
    ]);
    expect(s.wastedBytes).toBe(13);
    expect(s.writtenBytes - s.wastedBytes).toBe(120);
  });
});

// An independent model: a flat map from path to entry, whiteouts by prefix scan.
type Op =
  | { kind: "write"; path: string; size: number }
  | { kind: "mkdir"; path: string }
  | { kind: "symlink"; path: string }
  | { kind: "delete"; path: string }
  | { kind: "opaque"; path: string };

function model(layers: Op[][]): { written: number; final: Map<string, number> } {
  const fs = new Map<string, { type: string; size: number }>();
  const dropUnder = (p: string) => {
    for (const k of [...fs.keys()]) if (k === p || k.startsWith(`${p}/`)) fs.delete(k);
  };
  let written = 0;
  for (const ops of layers) {
    for (const op of ops) {
      if (op.kind === "delete") dropUnder(op.path);
      if (op.kind === "opaque") for (const k of [...fs.keys()]) if (k.startsWith(`${op.path}/`)) fs.delete(k);
    }
    for (const op of ops) {
      if (op.kind === "delete" || op.kind === "opaque") continue;
      const parts = op.path.split("/");
      for (let i = 1; i < parts.length; i++) {
        const parent = parts.slice(0, i).join("/");
        const e = fs.get(parent);
        if (e && e.type !== "dir") fs.delete(parent);
      }
      const existing = fs.get(op.path);
      if (op.kind === "mkdir") {
        if (existing && existing.type !== "dir") fs.delete(op.path);
        fs.set(op.path, { type: "dir", size: 0 });
        continue;
      }
      dropUnder(op.path);
      if (op.kind === "write") {
        written += op.size;
        fs.set(op.path, { type: "file", size: op.size });
      } else fs.set(op.path, { type: "symlink", size: 0 });
    }
  }
  const final = new Map<string, number>();
  for (const [k, v] of fs) if (v.type === "file") final.set(k, v.size);
  return { written, final };
}

const PATHS = ["a", "a/b", "a/c", "a/b/d", "e", "e/f", "e/f/g", "h"];
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("write" as const),
      path: fc.constantFrom(...PATHS),
      size: fc.nat(5000),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("mkdir" as const), path: fc.constantFrom(...PATHS) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("symlink" as const), path: fc.constantFrom(...PATHS) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("delete" as const), path: fc.constantFrom(...PATHS) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("opaque" as const),
      path: fc.constantFrom("a", "a/b", "e", "e/f"),
    }),
  },
);
const stackArb = fc.array(fc.array(opArb, { maxLength: 8 }), { minLength: 1, maxLength: 5 });

const toEntries = (ops: Op[]): LayerEntry[] =>
  ops.map((op) => {
    switch (op.kind) {
      case "write":
        return file(op.path, op.size);
      case "mkdir":
        return dir(op.path);
      case "symlink":
        return { path: op.path, type: "symlink", size: 0, mode: 0o777, uid: 0, gid: 0, linkname: "x" };
      case "delete":
        return wh(op.path);
      default:
        return opq(op.path);
    }
  });

const toFixture = (ops: Op[]): FixtureLayer => ({
  entries: ops.map((op): FixtureEntry => {
    switch (op.kind) {
      case "write":
        return { path: op.path, size: op.size };
      case "mkdir":
        return { path: op.path, type: "dir" };
      case "symlink":
        return { path: op.path, type: "symlink", target: "x" };
      case "delete":
        return { path: op.path, type: "whiteout" };
      default:
        return { path: op.path, type: "opaque" };
    }
  }),
});

describe("waste equals what a squash saves (property)", () => {
  it("for random layer stacks: waste = bytes written − bytes of the squashed file system", () => {
    fc.assert(
      fc.property(stackArb, (layers) => {
        const s = new Squash();
        for (const [i, ops] of layers.entries()) s.apply(i, toEntries(ops));
        const m = model(layers);
        const finalBytes = [...m.final.values()].reduce((a, b) => a + b, 0);
        expect(s.writtenBytes).toBe(m.written);
        expect(s.wastedBytes).toBe(m.written - finalBytes);
        expect(s.waste.reduce((n, w) => n + w.bytes, 0)).toBe(s.wastedBytes);
        expect(s.layers.reduce((n, l) => n + l.wastedBytes, 0)).toBe(s.wastedBytes);
        const files = new Map(
          [...s.files()].filter(([, e]) => e.type === "file").map(([p, e]) => [p, e.size]),
        );
        expect(files).toEqual(m.final);
      }),
      { numRuns: 400 },
    );
  });

  it("holds through real layers: written as gzip tars in an OCI layout, read back by inspect", async () => {
    const tmp = await mkdtemp(join(tmpdir(), "sw-squash-prop-"));
    try {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(stackArb, async (layers) => {
          const dirPath = join(tmp, `img${n++}`);
          await writeOciLayout(dirPath, { layers: layers.map(toFixture), user: "app" });
          const report = await inspectImage(await openImageSource(parseImageRef(`oci:${dirPath}`, tmp)));
          const m = model(layers);
          const finalBytes = [...m.final.values()].reduce((a, b) => a + b, 0);
          expect(report.totals.writtenBytes).toBe(m.written);
          expect(report.waste.bytes).toBe(m.written - finalBytes);
          expect(report.totals.finalBytes).toBe(finalBytes);
        }),
        { numRuns: 25 },
      );
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
