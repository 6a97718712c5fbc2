import { type DockerfileModel, flagsNamed, type Inst, mountOptions } from "../model.js";
import { commandsOf, pipInvocation, uvInvocation } from "../shell.js";
import type { Rule, RuleHit } from "../types.js";
import { df, lineageInstructions, severityIn } from "./util.js";

/** A cache (or tmpfs) mount over the tool's cache directory: ~/.cache, or a target naming the tool. */
const hasCacheMount = (inst: Inst, tool: "pip" | "uv"): boolean =>
  flagsNamed(inst, "mount").some((f) => {
    const o = mountOptions(f);
    const target = o.get("target") ?? o.get("dst") ?? o.get("destination") ?? "";
    return (
      (o.get("type") === "cache" || o.get("type") === "tmpfs") &&
      (/\/\.cache(\/|$)/.test(target) || target.includes(tool))
    );
  });

/** ENV set earlier in the stage (or its ancestors) that disables the cache. */
function envDisables(model: DockerfileModel, inst: Inst, names: readonly string[]): boolean {
  const stage = model.stages[inst.stage];
  if (!stage) return false;
  for (const i of lineageInstructions(model, stage)) {
    if (i === inst) break;
    if (i.keyword !== "ENV") continue;
    if (i.properties.some((p) => names.includes(p.name) && (p.value ?? "") !== "")) return true;
  }
  return false;
}

export const rule: Rule = {
  id: "pip-cache-in-layer",
  title: "pip's cache written into a layer",
  description:
    "`pip install` (or `pip wheel`, `uv pip install`, `uv sync`) without `--no-cache-dir`/`--no-cache` and without a `--mount=type=cache` for the cache directory: every downloaded and built wheel is kept under /root/.cache in the layer.",
  rationale:
    "pip caches downloads and built wheels in ~/.cache/pip by default (pip docs, 'Caching'); in an image nothing reuses it, and layers are append-only, so deleting it later saves nothing. Docker's BuildKit docs recommend a cache mount instead.",
  severity: "warning",
  good: [
    df(
      "FROM python:3.12-slim",
      "COPY requirements.txt .",
      "RUN pip install --no-cache-dir -r requirements.txt",
      "USER 10001",
    ),
    df(
      "FROM python:3.12-slim",
      "COPY requirements.txt .",
      "RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt",
      "RUN --mount=type=cache,target=/root/.cache/uv uv pip install --system -r requirements.txt",
      "USER 10001",
    ),
    df(
      "FROM python:3.12-slim",
      "ENV PIP_NO_CACHE_DIR=1",
      "COPY requirements.txt .",
      "RUN pip install -r requirements.txt",
      "USER 10001",
    ),
  ],
  bad: [
    df(
      "FROM python:3.12-slim",
      "COPY requirements.txt .",
      "RUN pip install -r requirements.txt",
      "USER 10001",
    ),
    df(
      "FROM python:3.12-slim",
      "COPY requirements.txt .",
      "RUN python -m pip install --upgrade pip && \\",
      "    python -m pip install --no-cache-dir -r requirements.txt",
      "USER 10001",
    ),
    df("FROM python:3.12-slim", "COPY pyproject.toml uv.lock ./", "RUN uv sync --frozen", "USER 10001"),
    df(
      "FROM python:3.12-slim",
      "COPY requirements.txt .",
      "RUN --mount=type=cache,target=/var/cache/apt pip install -r requirements.txt",
      "USER 10001",
    ),
  ],
  check(model) {
    const hits: RuleHit[] = [];
    for (const inst of model.instructions) {
      if (inst.keyword !== "RUN" || inst.stage < 0) continue;
      const commands = commandsOf(inst);
      const cleansCache =
        /(rm\s+-[a-zA-Z]*r[a-zA-Z]*\s+[^&;|]*(\.cache|\/root\/\.cache))|pip cache purge|uv cache clean/.test(
          inst.args,
        );
      if (cleansCache) continue;
      for (const cmd of commands) {
        const pip = pipInvocation(cmd);
        const uv = pip ? undefined : uvInvocation(cmd);
        const envPrefix = (name: string) =>
          cmd.some((w) => w.startsWith(`${name}=`) && w.length > name.length + 1);
        if (pip?.tool === "pip" && (pip.sub === "install" || pip.sub === "wheel")) {
          if (pip.rest.includes("--no-cache-dir") || pip.rest.includes("--no-cache")) continue;
          if (hasCacheMount(inst, "pip")) continue;
          if (envPrefix("PIP_NO_CACHE_DIR") || envDisables(model, inst, ["PIP_NO_CACHE_DIR"])) continue;
          hits.push({
            range: inst.range,
            severity: severityIn(model, inst.stage, "warning"),
            message: `\`pip ${pip.sub}\` keeps its cache (/root/.cache/pip) in this layer`,
            cost: "≈ the size of the downloaded wheels again: typically 10–300 MB",
            fix: `add --no-cache-dir, or use RUN --mount=type=cache,target=/root/.cache/pip pip ${pip.sub} …`,
          });
          break;
        }
        const uvSub = pip?.tool === "uv" ? `pip ${pip.sub}` : uv?.sub;
        const uvRest = pip?.tool === "uv" ? pip.rest : (uv?.rest ?? []);
        if (uvSub === "pip install" || uvSub === "pip sync" || uvSub === "sync") {
          if (uvRest.includes("--no-cache") || envPrefix("UV_NO_CACHE") || hasCacheMount(inst, "uv"))
            continue;
          if (envDisables(model, inst, ["UV_NO_CACHE"])) continue;
          hits.push({
            range: inst.range,
            severity: severityIn(model, inst.stage, "warning"),
            message: `\`uv ${uvSub}\` keeps its cache (/root/.cache/uv) in this layer`,
            cost: "≈ the size of the downloaded wheels again: typically 10–300 MB",
            fix: `add --no-cache (or ENV UV_NO_CACHE=1), or use RUN --mount=type=cache,target=/root/.cache/uv uv ${uvSub} …`,
          });
          break;
        }
      }
    }
    return hits;
  },
};
