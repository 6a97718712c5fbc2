/** Writing a file people read: through a temporary file and a rename, so never half-written. */
import { randomBytes } from "node:crypto";
import { rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { SlimwheelError } from "../errors.js";

/** Errors that say the file system has no room left (no space, quota, file too large). */
const FULL = new Set(["ENOSPC", "EDQUOT", "EFBIG"]);

/**
 * Writes `content` to `path` atomically: a temporary file beside it (named for this process and a
 * random suffix, so two writers never share one), then a rename. On any failure the temporary file
 * is removed and `path` keeps what it had. A full disk is an "io" error (exit 1) naming the path and
 * the bytes it needed; a path that cannot be written is a usage error (exit 2) naming it.
 */
export async function writeAtomic(path: string, content: string | Buffer): Promise<void> {
  const tmp = join(
    dirname(path),
    `.${basename(path)}.slimwheel-${process.pid}-${randomBytes(4).toString("hex")}.tmp`,
  );
  try {
    await writeFile(tmp, content);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    const err = e as NodeJS.ErrnoException;
    if (err.code && FULL.has(err.code)) {
      const bytes = typeof content === "string" ? Buffer.byteLength(content) : content.length;
      throw new SlimwheelError(
        "io",
        `cannot write ${path}: the disk is full (${bytes} bytes to write; ${err.code})`,
        {
          hint: `free space on the file system of ${dirname(path)}, or write elsewhere; ${path} was left as it was`,
          cause: e,
        },
      );
    }
    throw new SlimwheelError("usage", `cannot write ${path}: ${err.code ?? err.message}`, {
      hint:
        err.code === "ENOENT"
          ? `the directory ${dirname(path)} does not exist: create it, or write elsewhere`
          : "check the path and its permissions",
      cause: e,
    });
  }
}
