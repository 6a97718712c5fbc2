/**
 * Reading the source files present in a project: each format of the registry (sources/index.ts)
 * reads the first of its files that exists with its pure parser; requirements.txt has its -r/-c
 * includes read and resolved (includes leaving the project are refused by the resolver, naming
 * file:line).
 */
import { posix } from "node:path";
import { isSlimwheelError, SlimwheelError } from "../errors.js";
import { readProjectFile } from "../util/safe-read.js";
import { sourceFormats } from "./sources/index.js";
import {
  escapesProject,
  type ResolvedRequirements,
  resolveRequirements,
} from "./sources/requirements/index.js";
import type { SourceFacts, SourceFormat } from "./types.js";

/**
 * The text of the project file `rel`, or undefined when it does not exist (or is a directory). A
 * symlink leaving the project, a FIFO, a device or an oversized file is a SlimwheelError naming it
 * (util/safe-read.ts): nothing outside the project is read.
 */
export function readText(dir: string, rel: string): Promise<string | undefined> {
  return readProjectFile(dir, rel);
}

const includeTarget = (from: string, rel: string) => posix.normalize(posix.join(posix.dirname(from), rel));

/** requirements.txt and its includes: every file read first (they are few and small), then resolved (pure). */
async function readRequirements(
  dir: string,
  format: SourceFormat,
  file: string,
  content: string,
): Promise<ResolvedRequirements> {
  const texts = new Map<string, string>([[file, content]]);
  const pending = [file];
  while (pending.length) {
    const p = pending.pop()!;
    for (const inc of format.parse(texts.get(p)!, p).includes ?? []) {
      const target = includeTarget(p, inc.path);
      if (texts.has(target) || escapesProject(target, inc.path)) continue; // the resolver names the line
      let t: string | undefined;
      try {
        t = await readText(dir, target);
      } catch (e) {
        if (!isSlimwheelError(e)) throw e;
        throw new SlimwheelError(
          e.code,
          `${e.message} (${inc.kind === "constraints" ? "-c" : "-r"} ${inc.path})`,
          {
            location: `${p}:${inc.at.line ?? 0}`,
            hint: e.hint,
            cause: e,
          },
        );
      }
      if (t !== undefined) {
        texts.set(target, t);
        pending.push(target);
      }
    }
  }
  const read = (p: string): string => {
    const t = texts.get(p);
    if (t === undefined) throw new Error(`ENOENT: ${p}`);
    return t;
  };
  return resolveRequirements(file, read, includeTarget);
}

export interface ReadSources {
  readonly facts: readonly SourceFacts[];
  readonly requirementsSet?: ResolvedRequirements;
}

/** Parses every source file present: one file per format, the first of its list that exists. */
export async function readSources(dir: string): Promise<ReadSources> {
  const facts: SourceFacts[] = [];
  let requirementsSet: ResolvedRequirements | undefined;
  for (const format of sourceFormats) {
    for (const file of format.files) {
      const content = await readText(dir, file);
      if (content === undefined) continue;
      if (format.role === "requirements") {
        requirementsSet = await readRequirements(dir, format, file, content);
        facts.push(requirementsSet.facts);
      } else facts.push(format.parse(content, file));
      break;
    }
  }
  return { facts, requirementsSet };
}
