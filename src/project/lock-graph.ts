/**
 * A lock file as a graph, and the walk that gives the set installed for a target.
 *
 * Lock parsers (uv.lock, poetry.lock) turn `[[package]]` entries into nodes with their edges;
 * the walk starts from the project's main dependencies (plus the extras and groups asked for),
 * follows every edge whose marker is true for the target — `extra` evaluated for the extra whose
 * edges are being followed — and activates the extras an edge asks for on its target. What the
 * lock has but the walk does not reach is "left out", each with its reason.
 */
import { evaluateMarker, formatMarker, type Marker, type MarkerEnvironment } from "../python/markers.js";
import type { LockedPackage } from "./types.js";

export interface LockEdge {
  /** Node id (the PEP 503 key, or key@version when a lock has several versions of one name). */
  readonly to: string;
  /** Extras of the target this edge asks for. */
  readonly extras: readonly string[];
  readonly marker?: Marker;
}

export interface LockNode {
  /** The package as installed (no marker: the walk has evaluated them). */
  readonly package: LockedPackage;
  readonly deps: readonly LockEdge[];
  /** The package's own extras: name → the edges they add. */
  readonly optional: Readonly<Record<string, readonly LockEdge[]>>;
  /** The project itself or a workspace root: walked, never installed from the index. */
  readonly root?: boolean;
}

export interface LockGraph {
  readonly nodes: ReadonlyMap<string, LockNode>;
  /** The project's runtime dependencies. */
  readonly main: readonly LockEdge[];
  /** The project's own extras (optional-dependencies). */
  readonly extras: Readonly<Record<string, readonly LockEdge[]>>;
  /** Dependency groups (dev, docs, …). */
  readonly groups: Readonly<Record<string, readonly LockEdge[]>>;
}

export interface LockSelection {
  readonly groups: readonly string[];
  readonly extras: readonly string[];
}

export interface LeftOut {
  readonly name: string;
  readonly version?: string;
  readonly reason: string;
}

export interface LockWalk {
  readonly installed: readonly LockedPackage[];
  readonly leftOut: readonly LeftOut[];
  /** Asked-for groups or extras the project does not have. */
  readonly unknown: readonly string[];
}

/** Node ids reached from the given root edges; `rejected` collects edges whose marker was false. */
function reach(
  graph: LockGraph,
  roots: readonly (readonly [LockEdge, string])[],
  env: MarkerEnvironment,
  rejected?: Map<string, string>,
): Set<string> {
  const active = new Map<string, Set<string>>(); // node → extras already followed ("" = base)
  const queue: [string, string][] = [];
  const follow = (e: LockEdge, extra: string) => {
    if (e.marker && !evaluateMarker(e.marker, { ...env, extra })) {
      rejected?.set(e.to, formatMarker(e.marker));
      return;
    }
    for (const x of ["", ...e.extras]) queue.push([e.to, x]);
  };
  for (const [e, extra] of roots) follow(e, extra);
  while (queue.length) {
    const [id, extra] = queue.shift()!;
    const seen = active.get(id) ?? new Set<string>();
    active.set(id, seen);
    if (seen.has(extra)) continue;
    seen.add(extra);
    const node = graph.nodes.get(id);
    if (!node) continue;
    for (const e of extra === "" ? node.deps : (node.optional[extra] ?? [])) follow(e, extra);
  }
  return new Set(active.keys());
}

const rootEdges = (edges: readonly LockEdge[] | undefined, extra = ""): (readonly [LockEdge, string])[] =>
  (edges ?? []).map((e) => [e, extra] as const);

/** The set installed for `env` from `graph`, with the main dependencies plus the selection. */
export function walkLock(graph: LockGraph, selection: LockSelection, env: MarkerEnvironment): LockWalk {
  const unknown = [
    ...selection.groups.filter((g) => !graph.groups[g]).map((g) => `group ${g}`),
    ...selection.extras.filter((x) => !graph.extras[x]).map((x) => `extra ${x}`),
  ];
  const roots = [
    ...rootEdges(graph.main),
    ...selection.extras.flatMap((x) => rootEdges(graph.extras[x], x)),
    ...selection.groups.flatMap((g) => rootEdges(graph.groups[g])),
  ];
  const rejected = new Map<string, string>();
  const reached = reach(graph, roots, env, rejected);
  const installed: LockedPackage[] = [];
  const leftOut: LeftOut[] = [];
  const target = `Python ${env.python_version}, ${env.sys_platform} ${env.platform_machine}`;
  const via = (kind: "group" | "extra", table: LockGraph["groups"], chosen: readonly string[]) =>
    Object.keys(table)
      .filter((name) => !chosen.includes(name))
      .map((name) => ({
        name,
        kind,
        reached: reach(graph, rootEdges(table[name], kind === "extra" ? name : ""), env),
      }));
  let others: ReturnType<typeof via> | undefined;
  for (const [id, node] of graph.nodes) {
    if (node.root) continue;
    if (reached.has(id)) {
      installed.push(node.package);
      continue;
    }
    others ??= [
      ...via("group", graph.groups, selection.groups),
      ...via("extra", graph.extras, selection.extras),
    ];
    const from = others.filter((o) => o.reached.has(id));
    const marker = rejected.get(id);
    const reason = from.length
      ? `only in ${from.map((o) => `${o.kind} ${o.name}`).join(", ")} (not asked for: --${from[0]!.kind} ${from[0]!.name})`
      : marker
        ? `its marker ${marker} is false for the target (${target})`
        : `not needed by the project's dependencies for the target (${target}, extras not asked for)`;
    leftOut.push({
      name: node.package.name,
      version: node.package.version,
      reason,
    });
  }
  return { installed, leftOut, unknown };
}
