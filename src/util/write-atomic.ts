/** Writing a file people read: through a temporary file and a rename, so never half-written. */
import { rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { SlimwheelError } from "../errors.js";

/** Writes `content` to `path` atomically; a path that cannot be written is a usage error naming it. */
export async function writeAtomic(path: string, content: string | Buffer): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.slimwheel-${process.pid}.tmp`);
  try {
    await writeFile(tmp, content);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    const err = e as NodeJS.ErrnoException;
    throw new SlimwheelError("usage", `cannot write ${path}: ${err.code ?? err.message}`, {
      hint:
        err.code === "ENOENT"
          ? `the directory ${dirname(path)} does not exist: create it, or write elsewhere`
          : "check the path and its permissions",
      cause: e,
    });
  }
}
