/**
 * Reading a root filesystem (an image extracted to disk) without ever leaving it: every path is
 * absolute inside the root, symlinks are resolved against the root (an absolute target means the
 * root's `/`, `..` stops at the root), never against the host.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { posix } from "node:path";

export type EntryKind = "file" | "dir" | "symlink" | "other";

export interface Entry {
  readonly kind: EntryKind;
  readonly size: number;
  readonly mode: number;
  /** Modification time in whole seconds, when the root knows it. */
  readonly mtime?: number;
}

/** The small interface the closure reads through (a directory on disk, or a test double). */
export interface RootFs {
  lstat(path: string): Entry | undefined;
  readlink(path: string): string;
  readdir(path: string): string[];
  read(path: string): Buffer;
}

/** A root filesystem on disk. Paths given to it are root-relative absolute paths. */
export function diskRoot(root: string): RootFs {
  const host = (p: string) => posix.join(root, posix.normalize(`/${p}`));
  return {
    lstat(p) {
      try {
        const st = lstatSync(host(p));
        const kind = st.isSymbolicLink()
          ? "symlink"
          : st.isDirectory()
            ? "dir"
            : st.isFile()
              ? "file"
              : "other";
        return {
          kind,
          size: kind === "file" ? st.size : 0,
          mode: st.mode & 0o7777,
          mtime: Math.floor(st.mtimeMs / 1000),
        };
      } catch {
        return undefined;
      }
    },
    readlink: (p) => readlinkSync(host(p)),
    readdir: (p) => readdirSync(host(p)).sort(),
    read: (p) => readFileSync(host(p)),
  };
}

export interface Resolved {
  /** The final path inside the root (may not exist: see `exists`). */
  readonly path: string;
  readonly exists: boolean;
  /** Every symlink met on the way (file and directory links), in order. */
  readonly links: readonly string[];
}

const MAX_LINKS = 40; // as Linux's MAXSYMLINKS

/** Resolves `path` inside the root the way the kernel would if the root were `/`. */
export function resolveIn(fs: RootFs, path: string): Resolved {
  const links: string[] = [];
  let pending = posix.normalize(`/${path}`);
  for (let hops = 0; hops <= MAX_LINKS; hops++) {
    const parts = pending.split("/").filter(Boolean);
    let cur = "/";
    let restart: string | undefined;
    for (let i = 0; i < parts.length; i++) {
      const next = posix.join(cur, parts[i]!);
      const st = fs.lstat(next);
      if (!st) return { path: posix.join(next, ...parts.slice(i + 1)), exists: false, links };
      if (st.kind === "symlink") {
        links.push(next);
        const target = fs.readlink(next);
        const base = target.startsWith("/") ? target : posix.join(cur, target);
        // posix.normalize of an absolute path clamps `..` at `/`: a link never leaves the root.
        restart = posix.normalize(posix.join("/", base, ...parts.slice(i + 1)));
        break;
      }
      if (st.kind !== "dir" && i < parts.length - 1) {
        return { path: posix.join(next, ...parts.slice(i + 1)), exists: false, links };
      }
      cur = next;
    }
    if (restart === undefined) return { path: cur, exists: true, links };
    pending = restart;
  }
  return { path: pending, exists: false, links };
}

/** Every entry under `dir` (not following symlinks), depth first, sorted. */
export function* walk(fs: RootFs, dir: string): Generator<[string, Entry]> {
  let names: string[];
  try {
    names = fs.readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const p = posix.join(dir, name);
    const st = fs.lstat(p);
    if (!st) continue;
    yield [p, st];
    if (st.kind === "dir") yield* walk(fs, p);
  }
}

/** A glob (`*`, `?`, `**`) as a regular expression over absolute paths. */
export function globRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
      if (glob[i + 1] === "/") i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Paths in the root matching a glob (walks from its longest literal prefix). */
export function expandGlob(fs: RootFs, glob: string): string[] {
  const abs = posix.normalize(`/${glob}`);
  if (!/[*?]/.test(abs)) return fs.lstat(abs) ? [abs] : [];
  const parts = abs.split("/");
  const firstGlob = parts.findIndex((p) => /[*?]/.test(p));
  const base = parts.slice(0, firstGlob).join("/") || "/";
  const re = globRegExp(abs);
  const out: string[] = [];
  for (const [p] of walk(fs, base)) if (re.test(p)) out.push(p);
  return out;
}
