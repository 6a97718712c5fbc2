/** One generated file compared with what is on disk. */
import { readFile, stat } from "node:fs/promises";
import { SlimwheelError } from "../errors.js";
import { comparable, type Inputs, isGenerated, stampedHash, stampedOptions } from "./header.js";

export type FileStatus = "current" | "stale" | "missing" | "foreign";

export interface CommittedFile {
  readonly path: string;
  readonly rel: string;
  readonly role: "dockerfile" | "dockerignore" | "requirements" | "compose" | "env-example";
  readonly status: FileStatus;
  /** Why it is not current. */
  readonly reason?: string;
}

export interface CommittedState {
  /**
   * `absent`: no Dockerfile; `foreign`: a Dockerfile slimwheel did not write (no header: it is the
   * user's and slimwheel leaves it alone); `stale`: slimwheel's, but it or a file it needs differs
   * from what the current inputs give; `current`: every file is what slimwheel writes now.
   */
  readonly state: "current" | "stale" | "absent" | "foreign";
  readonly dockerfile: string;
  readonly files: readonly CommittedFile[];
  /** The inputs hash now. */
  readonly inputsHash: string;
  /** The command that brings every file up to date. */
  readonly fix: string;
}

/** Compares one planned file with what is on disk. */
export async function compareFile(
  f: { readonly path: string; readonly rel: string; readonly content: string },
  role: CommittedFile["role"],
  inputs: Inputs,
): Promise<CommittedFile> {
  const base = { path: f.path, rel: f.rel, role };
  // Only a regular file is read back: a FIFO there would block the read forever.
  const kind = await stat(f.path).catch(() => undefined);
  if (kind && !kind.isFile())
    throw new SlimwheelError("usage", `${f.path} exists and is not a regular file`, {
      hint: "remove it, or pass -o with the path of a file to write",
    });
  const disk = kind ? await readFile(f.path, "utf8").catch(() => undefined) : undefined;
  if (disk === undefined) return { ...base, status: "missing", reason: "not written yet" };
  if (!isGenerated(disk)) return { ...base, status: "foreign", reason: "it has no slimwheel header" };
  if (comparable(disk) === comparable(f.content)) return { ...base, status: "current" };
  const was = stampedHash(disk);
  const wasOptions = stampedOptions(disk);
  const reason =
    was === undefined
      ? "it carries no inputs hash (written by an older slimwheel)"
      : wasOptions !== undefined && wasOptions !== inputs.options.join(" ")
        ? `written with other options (${wasOptions || "none"}), checked with (${inputs.options.join(" ") || "none"}): run the check with the options it was written with, or rewrite it`
        : was !== inputs.hash
          ? `its inputs changed: written from ${was}, they are ${inputs.hash} now (${inputs.files.join(", ") || "options"})`
          : "same inputs, different text: edited by hand, written by another slimwheel, or a change elsewhere in the project (e.g. its start command)";
  return { ...base, status: "stale", reason };
}
