/**
 * Reading the source files present in a project: each format of the registry (sources/index.ts)
 * reads the first of its files that exists with its pure parser; requirements.txt has its -r/-c
 * includes read and resolved (includes leaving the project are refused by the resolver, naming
 * file:line).
 */
import { readFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { wrapError } from "../errors.js";
import { sourceFormats } from "./sources/index.js";
import {
  escapesProject,
  type ResolvedRequirements,
  resolveRequirements,
} from "./sources/requirements/index.js";
import type { SourceFacts, SourceFormat } from "./types.js";

/** A file's text, or undefined when it does not exist (or is a directory). */
export async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "EISDIR")
      return undefined;
    throw wrapError(e, `reading ${path}`);
  }
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
      const t = await readText(join(dir, target));
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
      const content = await readText(join(dir, file));
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
