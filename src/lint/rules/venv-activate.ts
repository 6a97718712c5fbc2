import { commandsOf } from "../shell.js";
import type { Rule, RuleHit } from "../types.js";
import { df } from "./util.js";

const isActivate = (w: string | undefined): boolean => w !== undefined && /(^|\/)activate$/.test(w);

export const rule: Rule = {
  id: "venv-activate",
  title: "Virtualenv activated with `activate` instead of PATH",
  description:
    "`source venv/bin/activate` (or `. activate`) in a RUN, or echoed into .bashrc/.profile: each RUN is a new shell, so the activation ends with it; .bashrc is read only by interactive bash, never by CMD or ENTRYPOINT.",
  rationale:
    "activate only sets VIRTUAL_ENV and puts the venv's bin first on PATH (Python docs, 'venv: How venvs work': activation is not required). `ENV PATH=/opt/venv/bin:$PATH` does the same for every later RUN and for the container's command.",
  severity: "warning",
  good: [
    df(
      "FROM python:3.12-slim",
      "RUN python -m venv /opt/venv",
      "ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH",
      "RUN pip install --no-cache-dir flask",
      "USER 10001",
    ),
  ],
  bad: [
    df(
      "FROM python:3.12-slim",
      "RUN python -m venv /opt/venv",
      "RUN . /opt/venv/bin/activate",
      "RUN pip install --no-cache-dir flask",
      "USER 10001",
    ),
    df(
      "FROM python:3.12-slim",
      "RUN python -m venv /opt/venv && echo 'source /opt/venv/bin/activate' >> ~/.bashrc",
      "USER 10001",
    ),
    df(
      "FROM python:3.12-slim",
      "RUN python -m venv venv",
      "RUN source venv/bin/activate && pip install --no-cache-dir flask",
      "USER 10001",
    ),
  ],
  check(model) {
    const hits: RuleHit[] = [];
    for (const inst of model.instructions) {
      if (inst.keyword !== "RUN") continue;
      if (/activate[^\n&;|]*>>?\s*\S*(bashrc|profile)/.test(inst.args)) {
        hits.push({
          range: inst.range,
          message: "writes the venv's activate into a shell startup file: CMD and ENTRYPOINT never read it",
          cost: "≈ 0 bytes; the container's command runs without the venv (ModuleNotFoundError at start)",
          fix: "set ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH instead",
        });
        continue;
      }
      const commands = commandsOf(inst);
      const at = commands.findIndex((c) => (c[0] === "source" || c[0] === ".") && isActivate(c[1]));
      if (at < 0) continue;
      const alone = at === commands.length - 1;
      hits.push({
        range: inst.range,
        severity: alone ? "warning" : "info",
        message: alone
          ? "activates the venv at the end of a RUN: the activation ends with that RUN and changes nothing"
          : "activates the venv for this RUN only: later RUNs and the container's command do not see it",
        cost: alone
          ? "≈ 0 bytes; later steps run the system Python (packages land outside the venv)"
          : "≈ 0 bytes; one more place where the venv must be remembered",
        fix: "set ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH once, after creating the venv",
      });
    }
    return hits;
  },
};
