import type { Rule, RuleHit } from "../types.js";
import { df } from "./util.js";

const URL = /^([a-z][a-z0-9+.-]*:\/\/|git@)/i;
const ARCHIVE = /\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|tzst|gz|bz2|xz)$/i;

export const rule: Rule = {
  id: "add-local-file",
  title: "ADD of a local file",
  description:
    "`ADD` of a local file or directory that is not an archive to unpack: ADD's extra powers (unpacking archives, fetching URLs) are implicit, COPY does exactly what it says.",
  rationale:
    "Docker's Dockerfile best practices: 'For other items (files, directories) that do not require ADD's tar auto-extraction capability, you should always use COPY.' (hadolint DL3020).",
  severity: "warning",
  good: [
    df(
      "FROM python:3.12-slim",
      "ADD rootfs.tar.gz /",
      "ADD https://example.com/app.tar.gz /tmp/",
      "COPY . /app",
      "USER 10001",
    ),
  ],
  bad: [df("FROM python:3.12-slim", "ADD requirements.txt /app/", "ADD . /app", "USER 10001")],
  check(model) {
    const hits: RuleHit[] = [];
    for (const inst of model.instructions) {
      if (inst.keyword !== "ADD" || inst.argv.length < 2) continue;
      if (inst.args.trimStart().startsWith("<<")) continue; // heredoc: inline content
      const sources = inst.argv.slice(0, -1);
      const local = sources.filter((s) => !URL.test(s) && !ARCHIVE.test(s));
      if (local.length === 0) continue;
      hits.push({
        range: inst.range,
        message: `ADD of local ${local.join(" ")}: not a URL, not an archive to unpack`,
        cost: "≈ 0 bytes; an archive or URL put there later would be unpacked or fetched silently",
        fix: `use COPY ${inst.argv.join(" ")}`,
      });
    }
    return hits;
  },
};
