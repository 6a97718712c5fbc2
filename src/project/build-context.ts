/**
 * The build context as read from disk: the files Docker would send (after .dockerignore), their
 * sizes, and the secrets among them — by name and by content (the first SIGNATURE_BYTES of at
 * most SIGNATURE_MAX_FILES files). The matching itself is pure (context-files.ts).
 */
import { constants, type Dirent } from "node:fs";
import { lstat, open, readdir, realpath } from "node:fs/promises";
import { join } from "node:path";
import { SlimwheelError } from "../errors.js";
import { isInside } from "../util/safe-read.js";
import {
  filterContext,
  findSecrets,
  type SecretFinding,
  SIGNATURE_BYTES,
  SIGNATURE_MAX_FILES,
  scanCandidate,
  secretInContent,
} from "./context-files.js";
import { readText } from "./read-sources.js";
import type { ProjectWarning } from "./types.js";

const SKIP_DIRS = new Set([".git"]);

async function listFiles(
  dir: string,
  max: number,
  warnings: ProjectWarning[],
): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(join(dir, rel), { withFileTypes: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new SlimwheelError(
        "input",
        `the directory ${rel || "."} of the project cannot be listed (${code === "EACCES" || code === "EPERM" ? "permission denied" : (code ?? (e as Error).message)})`,
        {
          hint: `check its permissions, or leave it out of the build context with a .dockerignore line "${rel}"`,
          cause: e,
        },
      );
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (out.length >= max) return;
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (/[\r\n]/.test(p) || e.name.includes("\uFFFD")) {
        // A name with a newline (it would break every list of files, .dockerignore's included) or
        // one that is not valid UTF-8 (node cannot even name it back to the file system).
        warnings.push({
          message: `${JSON.stringify(p)} has a file name with ${/[\r\n]/.test(p) ? "a line break" : "bytes that are not UTF-8"}: slimwheel leaves it out of the build context; rename it`,
        });
        continue;
      }
      if (e.isDirectory()) {
        if (SKIP_DIRS.has(e.name)) out.push({ path: `${p}/`, size: 0 });
        else await walk(p);
      } else if (e.isFile() || e.isSymbolicLink()) {
        const st = await lstat(join(dir, p)).catch(() => undefined);
        if (st) out.push({ path: p, size: st.size });
      } else {
        // FIFOs, sockets and devices: Docker cannot send them, and reading one would block or never end.
        warnings.push({
          message: `${p} is not a regular file (a FIFO, socket or device): left out of the build context`,
        });
      }
    }
  };
  await walk("");
  if (out.length >= max)
    warnings.push({
      message: `the build context has more than ${max} files; stopped listing (add a .dockerignore)`,
    });
  return out;
}

/** Secrets found by content: the first SIGNATURE_BYTES of at most SIGNATURE_MAX_FILES files. */
async function secretsByContent(
  dir: string,
  kept: readonly string[],
  sizes: ReadonlyMap<string, number>,
): Promise<SecretFinding[]> {
  const byName = new Set(findSecrets(kept).map((s) => s.path));
  const candidates = kept
    .filter((p) => !byName.has(p) && scanCandidate(p, sizes.get(p) ?? 0))
    .slice(0, SIGNATURE_MAX_FILES);
  const out: SecretFinding[] = [];
  const buf = Buffer.alloc(SIGNATURE_BYTES);
  const realRoot = await realpath(dir).catch(() => dir);
  for (const p of candidates) {
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    try {
      // Only regular files inside the project: a link out of it is not read, nor a FIFO (it would
      // block) or a device.
      const real = await realpath(join(dir, p));
      if (!isInside(realRoot, real)) continue;
      handle = await open(real, constants.O_RDONLY | constants.O_NONBLOCK);
      if (!(await handle.stat()).isFile()) continue;
      const { bytesRead } = await handle.read(buf, 0, SIGNATURE_BYTES, 0);
      const what = secretInContent(buf.subarray(0, bytesRead).toString("latin1"));
      if (what) out.push({ path: p, what: `${what}, found in its content` });
    } catch {
      /* unreadable (a dangling link, permissions): nothing to say about its content */
    } finally {
      await handle?.close();
    }
  }
  return out;
}

export interface BuildContext {
  /** Files (no directories) Docker would send. */
  readonly files: readonly string[];
  readonly sizes: ReadonlyMap<string, number>;
  readonly bytes: number;
  readonly dockerignore?: string;
  readonly secrets: readonly SecretFinding[];
}

export async function readBuildContext(
  dir: string,
  maxFiles: number,
  warnings: ProjectWarning[],
): Promise<BuildContext> {
  const dockerignoreText = await readText(dir, ".dockerignore");
  const listed = await listFiles(dir, maxFiles, warnings);
  const sizes = new Map(listed.map((f) => [f.path, f.size]));
  const kept = filterContext(
    listed.map((f) => f.path),
    dockerignoreText?.split(/\r?\n/),
  );
  const secrets = [...findSecrets(kept), ...(await secretsByContent(dir, kept, sizes))];
  for (const s of secrets) {
    warnings.push({
      message: `${s.path} (${s.what}) would be sent to the builder and may end up in an image: ${dockerignoreText === undefined ? "add a .dockerignore" : "add it to .dockerignore"}`,
    });
  }
  const files = kept.filter((p) => !p.endsWith("/"));

  return {
    files,
    sizes,
    bytes: files.reduce((n, f) => n + (sizes.get(f) ?? 0), 0),
    dockerignore: dockerignoreText !== undefined ? ".dockerignore" : undefined,
    secrets,
  };
}
