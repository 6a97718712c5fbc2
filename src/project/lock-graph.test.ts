import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { linuxTarget, parseMarker } from "../python/markers.js";
import { type LockEdge, type LockGraph, type LockNode, walkLock } from "./lock-graph.js";

/** Markers with their truth written by hand for the test target (CPython 3.12, linux x86_64). */
const MARKERS: readonly { text?: string; holds: (extra: string) => boolean }[] = [
  { holds: () => true },
  { text: 'python_version >= "3.11"', holds: () => true },
  { text: 'python_version < "3.10"', holds: () => false },
  { text: 'sys_platform == "win32"', holds: () => false },
  { text: 'platform_machine == "x86_64"', holds: () => true },
  { text: 'extra == "a"', holds: (x) => x === "a" },
  { text: 'extra == "b" and sys_platform == "linux"', holds: (x) => x === "b" },
];
const EXTRAS = ["a", "b"] as const;

interface TEdge {
  to: number;
  extras: string[];
  marker: number;
}
const edgeArb = (n: number) =>
  fc.record({
    to: fc.nat({ max: n - 1 }),
    extras: fc.subarray([...EXTRAS]),
    marker: fc.nat({ max: MARKERS.length - 1 }),
  });
const edgesArb = (n: number) => fc.array(edgeArb(n), { maxLength: 4 });
const graphArb = fc.integer({ min: 1, max: 12 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    nodes: fc.array(fc.record({ deps: edgesArb(n), a: edgesArb(n), b: edgesArb(n) }), {
      minLength: n,
      maxLength: n,
    }),
    main: edgesArb(n),
    extraX: edgesArb(n),
    groupDev: edgesArb(n),
    groupDocs: edgesArb(n),
    selection: fc.record({
      groups: fc.subarray(["dev", "docs"]),
      extras: fc.subarray(["x"]),
    }),
  }),
);

type G = typeof graphArb extends fc.Arbitrary<infer T> ? T : never;

const toEdge = (e: TEdge): LockEdge => {
  const m = MARKERS[e.marker]!;
  return { to: `p${e.to}`, extras: e.extras, ...(m.text ? { marker: parseMarker(m.text) } : {}) };
};

/** The reference: a fixpoint over (package, extra) pairs, written without the walk's queue. */
function referenceWalk(g: G): string[] {
  const active = new Set<string>();
  const add = (e: TEdge, ctx: string) => {
    if (!MARKERS[e.marker]!.holds(ctx)) return;
    active.add(`${e.to}|`);
    for (const x of e.extras) active.add(`${e.to}|${x}`);
  };
  for (const e of g.main) add(e, "");
  if (g.selection.extras.includes("x")) for (const e of g.extraX) add(e, "x");
  if (g.selection.groups.includes("dev")) for (const e of g.groupDev) add(e, "");
  if (g.selection.groups.includes("docs")) for (const e of g.groupDocs) add(e, "");
  for (let size = -1; size !== active.size; ) {
    size = active.size;
    for (const pair of [...active]) {
      const [i, x] = pair.split("|") as [string, string];
      const node = g.nodes[Number(i)]!;
      for (const e of x === "" ? node.deps : x === "a" ? node.a : node.b) add(e, x);
    }
  }
  return [...new Set([...active].map((p) => `p${p.split("|")[0]}`))].sort();
}

function toGraph(g: G): LockGraph {
  const nodes = new Map<string, LockNode>();
  g.nodes.forEach((n, i) => {
    nodes.set(`p${i}`, {
      package: { name: `p${i}`, key: `p${i}`, version: "1.0", hashes: [], at: { file: "lock" } },
      deps: n.deps.map(toEdge),
      optional: { a: n.a.map(toEdge), b: n.b.map(toEdge) },
    });
  });
  return {
    nodes,
    main: g.main.map(toEdge),
    extras: { x: g.extraX.map(toEdge) },
    groups: { dev: g.groupDev.map(toEdge), docs: g.groupDocs.map(toEdge) },
  };
}

describe("walkLock", () => {
  it("installs exactly what an independent fixpoint reaches (random graphs, extras, markers, groups)", () => {
    fc.assert(
      fc.property(graphArb, (g) => {
        const walk = walkLock(toGraph(g), g.selection, linuxTarget("3.12"));
        const installed = walk.installed.map((p) => p.name).sort();
        expect(installed).toEqual(referenceWalk(g));
        // Everything else is left out, each with a reason.
        expect(walk.leftOut.length + installed.length).toBe(g.n);
        for (const l of walk.leftOut) expect(l.reason).not.toBe("");
      }),
      { numRuns: 300 },
    );
  });

  it("says why a package is left out: group, marker, unknown selection", () => {
    const e = (to: string, marker?: string): LockEdge => ({
      to,
      extras: [],
      ...(marker ? { marker: parseMarker(marker) } : {}),
    });
    const node = (name: string, deps: LockEdge[] = []): LockNode => ({
      package: { name, key: name, hashes: [], at: { file: "uv.lock" } },
      deps,
      optional: {},
    });
    const graph: LockGraph = {
      nodes: new Map([
        ["app", { ...node("app", [e("colorama", 'sys_platform == "win32"')]), root: true }],
        ["colorama", node("colorama")],
        ["pytest", node("pytest")],
      ]),
      main: [e("colorama", 'sys_platform == "win32"')],
      extras: {},
      groups: { dev: [e("pytest")] },
    };
    const walk = walkLock(graph, { groups: ["docs"], extras: [] }, linuxTarget("3.14"));
    expect(walk.installed).toEqual([]);
    expect(walk.leftOut).toEqual([
      {
        name: "colorama",
        reason: expect.stringMatching(/marker sys_platform == "win32" is false .*Python 3\.14/),
      },
      { name: "pytest", reason: "only in group dev (not asked for: --group dev)" },
    ]);
    expect(walk.unknown).toEqual(["group docs"]);
  });
});
