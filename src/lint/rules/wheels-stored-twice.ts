import { finalStage, flagNamed, type Inst, lineage, shippedStages } from "../model.js";
import { commandsOf, pipInvocation } from "../shell.js";
import type { Rule, RuleHit } from "../types.js";
import { df, lineOf } from "./util.js";

const norm = (p: string): string => p.replace(/^\.\//, "").replace(/\/+$/, "") || ".";

/** The paths a COPY puts its sources at: the destination, and destination/basename for each source. */
function destinations(inst: Inst): string[] {
  const dest = inst.argv.at(-1);
  if (!dest || inst.argv.length < 2) return [];
  const out = [norm(dest)];
  for (const src of inst.argv.slice(0, -1)) {
    const base = norm(src).split("/").at(-1);
    if (base && base !== "." && base !== "*") out.push(norm(`${norm(dest)}/${base}`));
  }
  return out;
}

/** Whether a pip install reads wheels from `dir`: --find-links dir, -f dir, dir/*.whl, dir/x.whl. */
function readsWheelsFrom(words: readonly string[], dir: string): boolean {
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    let link: string | undefined;
    if (w === "--find-links" || w === "-f") link = words[i + 1];
    else if (w.startsWith("--find-links=")) link = w.slice("--find-links=".length);
    else if (/^-f\S/.test(w)) link = w.slice(2);
    else if (w.endsWith(".whl") || w.endsWith("/*")) {
      const path = norm(w);
      if (path === dir || path.startsWith(`${dir}/`)) return true;
      continue;
    }
    if (link !== undefined && (norm(link) === dir || norm(link).startsWith(`${dir}/`))) return true;
  }
  return false;
}

export const rule: Rule = {
  id: "wheels-stored-twice",
  title: "Wheels copied into the final image, then installed",
  description:
    "Wheels (or a directory of wheels and requirements) COPY'd into a stage that ships and installed from there: the COPY layer keeps every wheel, and the install layer holds them again unpacked.",
  rationale:
    "Layers are append-only: deleting the wheels after installing saves nothing. BuildKit's `RUN --mount=type=bind,from=STAGE` makes the builder's files visible to one RUN without writing them into a layer (Docker docs, 'RUN --mount=type=bind').",
  severity: "warning",
  good: [
    df(
      "FROM python:3.12 AS builder",
      "COPY requirements.txt .",
      "RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt",
      "FROM python:3.12-slim",
      "RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \\",
      "    pip install --no-cache-dir --no-index /wheels/*.whl",
      "USER 10001",
    ),
    df(
      "FROM python:3.12 AS builder",
      "COPY requirements.txt .",
      "RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt",
      "COPY --from=builder /wheels /wheels",
      "RUN pip install --no-cache-dir --no-index --find-links /wheels -r requirements.txt",
      "FROM python:3.12-slim",
      "COPY --from=builder /usr/local/lib/python3.12/site-packages /usr/local/lib/python3.12/site-packages",
      "USER 10001",
    ),
  ],
  bad: [
    df(
      "FROM python:3.12 AS builder",
      "COPY requirements.txt .",
      "RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt",
      "FROM python:3.12-slim",
      "COPY --from=builder /wheels /wheels",
      "RUN pip install --no-cache-dir --no-index /wheels/* && rm -rf /wheels",
      "RUN pip install --no-cache-dir /wheels/extra-1.0-py3-none-any.whl",
      "USER 10001",
    ),
    df(
      "FROM python:3.12-slim",
      "COPY wheels/ /tmp/wheels/",
      "COPY requirements.txt /tmp/",
      "RUN pip install --no-cache-dir --no-index -f /tmp/wheels -r /tmp/requirements.txt",
      "USER 10001",
    ),
  ],
  check(model) {
    const hits: RuleHit[] = [];
    const last = finalStage(model);
    if (!last) return hits;
    const shipped = shippedStages(model);
    const copies: { inst: Inst; dirs: string[] }[] = [];
    for (const stage of lineage(model, last)) {
      if (!shipped.has(stage.index)) continue;
      for (const inst of stage.instructions) {
        if (inst.keyword === "COPY" || inst.keyword === "ADD") {
          copies.push({ inst, dirs: destinations(inst) });
          continue;
        }
        if (inst.keyword !== "RUN") continue;
        for (const cmd of commandsOf(inst)) {
          const pip = pipInvocation(cmd);
          if (pip?.sub !== "install") continue;
          const from = copies.find((c) => c.dirs.some((d) => readsWheelsFrom(pip.rest, d)));
          if (!from) continue;
          const stageRef = flagNamed(from.inst, "from")?.value;
          hits.push({
            range: inst.range,
            message: `installs wheels that the ${from.inst.keyword} at line ${lineOf(from.inst)} wrote into a layer of the final image: they are stored twice`,
            cost: "≈ the size of the wheels (kept in the COPY layer, and again installed): often 20–200 MB",
            fix: stageRef
              ? `drop the COPY and install through RUN --mount=type=bind,from=${stageRef},source=${from.inst.argv[0] ?? "/wheels"},target=/wheels pip install --no-index /wheels/*.whl`
              : "build the wheels in a builder stage and install them through RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels (no COPY)",
          });
          break;
        }
      }
    }
    return hits;
  },
};
