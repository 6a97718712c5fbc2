import type { Inst } from "../model.js";
import { commandsOf, pipInvocation, uvInvocation } from "../shell.js";
import type { Rule, RuleHit } from "../types.js";
import { df, lineageInstructions, lineOf } from "./util.js";

/** COPY or ADD of the whole build context (`.`, `./`, `*`) from the context, not from a stage. */
export function copiesWholeContext(inst: Inst): boolean {
  if (inst.keyword !== "COPY" && inst.keyword !== "ADD") return false;
  if (inst.flags.some((f) => f.name === "from")) return false;
  const sources = inst.argv.slice(0, -1);
  return sources.some((s) => s === "." || s === "./" || s === "*" || s === "./*");
}

/** Whether a command installs the project's dependencies (not only the project itself). */
export function installsDependencies(cmd: readonly string[], copiedTo?: string): string | undefined {
  const pip = pipInvocation(cmd);
  if (pip && pip.sub === "install") {
    if (pip.rest.includes("--no-deps")) return undefined;
    const fromFile = pip.rest.some(
      (w) => w === "-r" || w === "--requirement" || /^(-r|--requirement=)\S/.test(w),
    );
    // `pip install .`, `pip install -e .`, or the path the context was copied to (`COPY . /src` then `pip install /src`)
    const dest = copiedTo?.replace(/\/+$/, "");
    const project = pip.rest.some(
      (w) =>
        /^\.(\/)?(\[.*\])?$/.test(w) ||
        w === "-e" ||
        w === "--editable" ||
        (dest !== undefined &&
          dest !== "" &&
          dest !== "." &&
          w.replace(/\[.*\]$/, "").replace(/\/+$/, "") === dest),
    );
    if (fromFile || project) return `${pip.tool === "uv" ? "uv pip" : "pip"} install`;
    return undefined;
  }
  const uv = uvInvocation(cmd);
  if (uv && uv.sub === "sync" && !uv.rest.includes("--no-deps")) return "uv sync";
  const tool = cmd.findIndex((w) => /^(?:.*\/)?(poetry|pipenv|pdm)$/.test(w));
  if (tool >= 0) {
    const name = cmd[tool]!.split("/").at(-1)!;
    const sub = cmd.slice(tool + 1).find((w) => !w.startsWith("-"));
    if ((sub === "install" || (name === "pipenv" && sub === "sync")) && !cmd.includes("--only-root"))
      return `${name} ${sub}`;
  }
  return undefined;
}

export const rule: Rule = {
  id: "deps-after-copy-all",
  title: "Dependencies installed after copying the whole context",
  description:
    "A dependency install (pip install -r, poetry install, uv sync, pipenv install…) that comes after `COPY . .` in the same stage: any change to any file invalidates the cache of that layer, so every code change reinstalls every dependency.",
  rationale:
    "Docker's build cache reuses a layer only while everything before it is unchanged (Docker docs, 'Optimize cache usage': copy the dependency files, install, then copy the rest).",
  severity: "warning",
  good: [
    df(
      "FROM python:3.12-slim",
      "WORKDIR /app",
      "COPY requirements.txt .",
      "RUN pip install --no-cache-dir -r requirements.txt",
      "COPY . .",
      "RUN pip install --no-cache-dir --no-deps .",
      "USER 10001",
    ),
    df(
      "FROM python:3.12-slim",
      "WORKDIR /app",
      "COPY pyproject.toml poetry.lock ./",
      "RUN poetry install --no-root",
      "COPY . .",
      "RUN poetry install --only-root",
      "USER 10001",
    ),
  ],
  bad: [
    df(
      "FROM python:3.12-slim",
      "WORKDIR /app",
      "COPY . .",
      "RUN pip install --no-cache-dir -r requirements.txt",
      "USER 10001",
    ),
    df(
      "FROM python:3.12-slim",
      "WORKDIR /app",
      "COPY . /app",
      "RUN uv sync --frozen --no-cache",
      "USER 10001",
    ),
    df("FROM python:3.12-slim", "COPY . /src/", "RUN pip install --no-cache-dir /src", "USER 10001"),
  ],
  check(model) {
    const hits: RuleHit[] = [];
    for (const stage of model.stages) {
      let copiedAll: Inst | undefined;
      let installedBefore = false;
      for (const inst of lineageInstructions(model, stage)) {
        if (!copiedAll && copiesWholeContext(inst)) {
          copiedAll = inst;
          continue;
        }
        if (inst.keyword !== "RUN") continue;
        const what = commandsOf(inst)
          .map((c) => installsDependencies(c, copiedAll?.argv.at(-1)))
          .find((x) => x !== undefined);
        if (!what) continue;
        if (!copiedAll) {
          installedBefore = true;
          continue;
        }
        if (installedBefore || inst.stage !== stage.index) continue;
        hits.push({
          range: inst.range,
          message: `\`${what}\` runs after the whole build context was copied (line ${lineOf(copiedAll)}): any file change reinstalls every dependency`,
          cost: "≈ the full dependency install again on every code change: typically 30–300 s per build",
          fix: "copy only the dependency files first (requirements*.txt, pyproject.toml and the lock), install, then COPY . .",
        });
        break;
      }
    }
    return hits;
  },
};
