/**
 * Reading a file of a project that slimwheel does not trust: only a regular file, only inside the
 * project, and only up to a size. A FIFO would block the read forever, a device (`/dev/zero`)
 * would never end, and a symlink out of the project would read a file of the machine (`/etc/shadow`)
 * into a plan, an error message or an image: each is refused with an error naming the file.
 */
import { constants } from "node:fs";
import { open, readlink, realpath } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import { SlimwheelError } from "../errors.js";

/** The largest project file slimwheel reads whole (lock files of big projects are a few MB). */
export const MAX_PROJECT_FILE_BYTES = 32 * 1024 * 1024;

/** What kind of file a stat describes, for messages. */
function kindOf(st: {
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}): string {
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/** Whether `path` (already resolved) is `root` or inside it. */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

export interface ReadProjectFileOptions {
  /** Refuse files larger than this (default MAX_PROJECT_FILE_BYTES). */
  readonly maxBytes?: number;
  /** What the file is, for messages (default: its relative path). */
  readonly display?: string;
}

/**
 * The text of `rel` inside the project `root`, or undefined when it does not exist (or is a
 * directory). Throws a SlimwheelError ("input") for a symlink leaving the project, a symlink loop,
 * a FIFO, device or socket, an unreadable file, or a file over the size limit.
 */
export async function readProjectFile(
  root: string,
  rel: string,
  options: ReadProjectFileOptions = {},
): Promise<string | undefined> {
  const path = join(root, rel);
  const display = options.display ?? rel;
  const max = options.maxBytes ?? MAX_PROJECT_FILE_BYTES;
  // Where it really is, before anything is opened: a link out of the project is never read.
  let real: string;
  try {
    real = await realpath(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      // A dangling symlink is not "absent": say where it points.
      const target = await readlink(path).catch(() => undefined);
      if (target === undefined) return undefined;
      throw new SlimwheelError("input", `${display} is a symlink to ${target}, which does not exist`, {
        hint: `replace the link ${display} by the file itself, or remove it`,
        cause: e,
      });
    }
    if (code === "ELOOP")
      throw new SlimwheelError("input", `${display} is a symlink loop`, {
        hint: `fix or remove the symlink ${display}`,
        cause: e,
      });
    throw unreadable(display, e);
  }
  const realRoot = await realpath(root).catch(() => root);
  if (!isInside(realRoot, real)) {
    throw new SlimwheelError(
      "input",
      `${display} leads through a symlink to ${real}, outside the project directory`,
      {
        hint: "slimwheel reads only files inside the project: copy the file into the project instead of linking it",
      },
    );
  }
  return readRegularFile(real, { display, maxBytes: max });
}

/**
 * The text of the file at `path` (no check of where it is: for files the user names, such as the
 * Dockerfile given to `lint`), or undefined when it does not exist or is a directory. A FIFO, a
 * device or a socket is refused without blocking (it is opened with O_NONBLOCK and never read), as
 * is a file over the size limit; errors are SlimwheelErrors ("input") naming `display`.
 */
export async function readRegularFile(
  path: string,
  options: { readonly display?: string; readonly maxBytes?: number } = {},
): Promise<string | undefined> {
  const display = options.display ?? path;
  const max = options.maxBytes ?? MAX_PROJECT_FILE_BYTES;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "EISDIR") return undefined;
    throw unreadable(display, e);
  }
  try {
    const st = await handle.stat();
    if (st.isDirectory()) return undefined;
    if (!st.isFile()) {
      throw new SlimwheelError("input", `${display} is ${kindOf(st)}, not a regular file`, {
        hint: `replace ${display} by a regular file, or remove it`,
      });
    }
    if (st.size > max) throw tooBig(display, st.size, max);
    // The size may change while reading (a growing file): never read more than the limit + 1.
    const buf = Buffer.alloc(Math.min(st.size, max) + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n >= buf.length) break;
    }
    if (n > max) throw tooBig(display, n, max);
    return buf.subarray(0, n).toString("utf8");
  } catch (e) {
    if (e instanceof SlimwheelError) throw e;
    throw unreadable(display, e);
  } finally {
    await handle.close();
  }
}

function tooBig(display: string, size: number, max: number): SlimwheelError {
  return new SlimwheelError(
    "input",
    `${display} is ${size} bytes, more than the ${max} bytes slimwheel reads of a project file`,
    { hint: `check that ${display} is the file you mean; a requirements or config file is much smaller` },
  );
}

function unreadable(display: string, e: unknown): SlimwheelError {
  const code = (e as NodeJS.ErrnoException).code;
  return new SlimwheelError(
    "input",
    `${display} cannot be read (${code === "EACCES" || code === "EPERM" ? "permission denied" : (code ?? (e as Error).message)})`,
    { hint: `check the permissions of ${display}`, cause: e },
  );
}
