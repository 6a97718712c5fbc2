import { type Inst, shippedStages } from "../model.js";
import { commandsOf, packageInstall, packageRemoval } from "../shell.js";
import type { Rule, RuleHit } from "../types.js";
import { aboutMB, df, lineageInstructions, lineOf } from "./util.js";

/** Installed sizes of common build tools (Debian bookworm, amd64, with their dependencies), in MB. */
const SIZES: [RegExp, number][] = [
  [/^build-essential$/, 230],
  [/^(gcc|gcc-\d+|cc)$/, 110],
  [/^(g\+\+|g\+\+-\d+)$/, 60],
  [/^(clang|clang-\d+|llvm)$/, 300],
  [/^(gfortran|gfortran-\d+)$/, 60],
  [/^(rustc|cargo|rust)$/, 300],
  [/^(python3?-dev|python3\.\d+-dev|python3-devel)$/, 35],
  [/^(cmake)$/, 30],
  [/^(linux-headers.*|musl-dev|libc6-dev|libc-dev)$/, 20],
  [/-(dev|devel)$/, 8],
  [/^(make|autoconf|automake|libtool|pkg-config|pkgconf|binutils|alpine-sdk)$/, 5],
];

export const isBuildTool = (pkg: string): boolean =>
  SIZES.some(([re]) => re.test(pkg.replace(/[=:].*$/, "")));
const sizeOf = (pkg: string): number => SIZES.find(([re]) => re.test(pkg.replace(/[=:].*$/, "")))?.[1] ?? 5;

export const rule: Rule = {
  id: "build-tools-removed-later",
  title: "Build tools removed in a later layer",
  description:
    "Compilers, headers or -dev packages installed by one RUN and purged by a later one: the purge hides them but the earlier layer still holds every byte.",
  rationale:
    "Layers are append-only: a later purge saves nothing (OCI image spec, 'Image Layer Filesystem Changeset': a deletion is a whiteout entry in the new layer, the earlier layer keeps the files). Install, use and remove in one RUN, or build in a separate stage (Docker docs, 'Multi-stage builds').",
  severity: "warning",
  good: [
    df(
      "FROM python:3.12-slim",
      "RUN apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev \\",
      "    && pip install --no-cache-dir psycopg2 \\",
      "    && apt-get purge -y --auto-remove gcc libpq-dev && rm -rf /var/lib/apt/lists/*",
      "USER 10001",
    ),
    df(
      "FROM python:3.12 AS build",
      "RUN apt-get update && apt-get install -y --no-install-recommends build-essential && rm -rf /var/lib/apt/lists/*",
      "RUN pip wheel --no-cache-dir --wheel-dir /wheels psycopg2",
      "RUN apt-get purge -y build-essential",
      "FROM python:3.12-slim",
      "RUN apt-get update && apt-get purge -y curl && rm -rf /var/lib/apt/lists/*",
      "USER 10001",
    ),
  ],
  bad: [
    df(
      "FROM python:3.12-slim",
      "RUN apt-get update && apt-get install -y --no-install-recommends build-essential libpq-dev && rm -rf /var/lib/apt/lists/*",
      "RUN pip install --no-cache-dir psycopg2",
      "RUN apt-get purge -y --auto-remove build-essential libpq-dev",
      "USER 10001",
    ),
    df(
      "FROM python:3.12-alpine",
      "RUN apk add --no-cache --virtual .build-deps gcc musl-dev",
      "RUN pip install --no-cache-dir psycopg2",
      "RUN apk del .build-deps",
      "USER 10001",
    ),
  ],
  check(model) {
    const hits: RuleHit[] = [];
    const shipped = shippedStages(model);
    for (const stage of model.stages) {
      // a builder stage's layers never ship: removing its tools later costs nothing
      if (!shipped.has(stage.index)) continue;
      // what each build tool's install looked like, by package (or apk --virtual group) name
      const installed = new Map<string, Inst>();
      for (const inst of lineageInstructions(model, stage)) {
        if (inst.keyword !== "RUN") continue;
        const removedHere: { pkg: string; at: Inst }[] = [];
        const installedHere = new Map<string, Inst>();
        for (const cmd of commandsOf(inst)) {
          const add = packageInstall(cmd);
          if (add) {
            const tools = add.packages.filter(isBuildTool);
            for (const p of tools) installedHere.set(p.replace(/[=:].*$/, ""), inst);
            const virtualAt = add.options.findIndex((o) => o === "--virtual" || o === "-t");
            const virtual = virtualAt >= 0 ? add.options[virtualAt + 1] : undefined;
            if (virtual && tools.length > 0) installedHere.set(virtual, inst);
            continue;
          }
          const del = packageRemoval(cmd);
          if (!del) continue;
          for (const p of del.packages) {
            const earlier = installed.get(p);
            if (earlier) removedHere.push({ pkg: p, at: earlier });
          }
        }
        for (const [p, at] of installedHere) installed.set(p, at);
        if (removedHere.length === 0 || inst.stage !== stage.index) continue;
        const first = removedHere[0]!.at;
        const pkgs = removedHere.map((r) => r.pkg);
        const mb = pkgs.reduce((sum, p) => sum + (p.startsWith(".") ? 150 : sizeOf(p)), 0);
        hits.push({
          range: inst.range,
          message: `${pkgs.join(", ")} installed at line ${lineOf(first)} and removed here, in a later layer: the earlier layer still holds them`,
          cost: `${aboutMB(mb)} stays in the image (layers are append-only)`,
          fix: "install, use and purge the build tools in one RUN, or build wheels in a builder stage and install them in a slim final stage with RUN --mount=type=bind,from=builder",
        });
      }
    }
    return hits;
  },
};
