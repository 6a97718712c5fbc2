/**
 * The OCI provenance labels `build` puts on every image it builds (docs/sbom.md, "Labels"):
 * `org.opencontainers.image.source` (the git remote, without credentials), `.revision` (git HEAD),
 * `.created` (SOURCE_DATE_EPOCH, else the last commit's time), `.licenses` (pyproject's license as
 * an SPDX expression), `.base.name` and `.base.digest` (the runtime base image).
 *
 * `imageLabels` is pure; `projectProvenance` reads git and pyproject.toml. Nothing here reads the
 * clock: the same inputs give the same labels, so they do not break byte-reproducibility.
 */
import { lstat, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { BuildPlan } from "../plan/types.js";
import { parseToml } from "../project/sources/toml.js";
import { classifierLicense, isSpdxExpression, spdxLicenseIds } from "../sbom/licenses.js";
import { type Env, exec } from "../util/exec.js";

export const LABEL = {
  source: "org.opencontainers.image.source",
  revision: "org.opencontainers.image.revision",
  created: "org.opencontainers.image.created",
  licenses: "org.opencontainers.image.licenses",
  baseName: "org.opencontainers.image.base.name",
  baseDigest: "org.opencontainers.image.base.digest",
} as const;

/** What the labels are computed from; each absent one is left out. */
export interface LabelInputs {
  /** The git remote's URL as git prints it (credentials are removed here). */
  readonly remoteUrl?: string;
  /** git HEAD's commit. */
  readonly revision?: string;
  /** Seconds since the epoch (SOURCE_DATE_EPOCH, else the last commit's time). */
  readonly created?: number;
  /** An SPDX license expression. */
  readonly licenses?: string;
  /** The runtime base image reference. */
  readonly baseName?: string;
  /** The base image's manifest digest when known (else taken from a `@sha256:` reference). */
  readonly baseDigest?: string;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** The labels, in a fixed key order. */
export function imageLabels(i: LabelInputs): Record<string, string> {
  const l: Record<string, string> = {};
  const source = i.remoteUrl === undefined ? undefined : publicRemoteUrl(i.remoteUrl);
  if (source) l[LABEL.source] = source;
  if (i.revision && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(i.revision)) l[LABEL.revision] = i.revision;
  if (i.created !== undefined) l[LABEL.created] = rfc3339(i.created);
  if (i.licenses && isSpdxExpression(i.licenses)) l[LABEL.licenses] = i.licenses;
  if (i.baseName) {
    l[LABEL.baseName] = i.baseName;
    const digest = i.baseDigest ?? pinnedDigest(i.baseName);
    if (digest && DIGEST.test(digest)) l[LABEL.baseDigest] = digest;
  }
  return l;
}

/** `2024-01-02T03:04:05Z` (RFC 3339, UTC, whole seconds). */
export const rfc3339 = (seconds: number): string =>
  new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The digest of a reference pinned by digest (`NAME@sha256:…`). */
export function pinnedDigest(ref: string): string | undefined {
  const m = /@(sha256:[0-9a-f]{64})$/.exec(ref);
  return m?.[1];
}

/**
 * A remote URL fit to publish: URLs (`https://`, `ssh://`, `git://`, `http://`) lose their user
 * information (a token or password: `https://TOKEN@host/…`, `https://user:pw@host/…`), query and
 * fragment; scp-like `user@host:path` is kept (ssh carries no password there). A local path or a
 * `file:` URL says nothing public: undefined.
 */
export function publicRemoteUrl(remote: string): string | undefined {
  const text = remote.trim();
  if (!text || /\s/.test(text)) return undefined;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme) {
    if (scheme === "file") return undefined;
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return undefined;
    }
    if (!url.hostname) return undefined;
    url.username = "";
    url.password = "";
    url.search = "";
    url.hash = "";
    return url.toString();
  }
  // scp-like: [user@]host:path (git's rule: no slash before the first colon).
  const scp = /^(?:([^@/:]+)@)?([^@/:]+):(?!\/\/)(.+)$/.exec(text);
  if (scp && !/^[a-z]$/i.test(scp[2]!)) return `${scp[1] ? `${scp[1]}@` : ""}${scp[2]}:${scp[3]}`;
  return undefined;
}

/**
 * The license `[project] license` (or `[tool.poetry] license`) of pyproject.toml declares, as an
 * SPDX expression: a PEP 639 string that is one; a `{ text = … }` table whose text is one SPDX id
 * or an expression; otherwise the `License ::` classifiers naming exactly one SPDX license each
 * (several joined with `AND`, as the SBOM does). A `{ file = … }` table, or a name that is not an
 * SPDX id: undefined.
 */
export function pyprojectLicense(doc: Record<string, unknown>): string | undefined {
  const table = (v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  const project = table(doc.project);
  const poetry = table(table(doc.tool)?.poetry);
  const asExpression = (text: unknown): string | undefined => {
    if (typeof text !== "string") return undefined;
    const t = text.trim();
    const id = spdxLicenseIds().get(t.toLowerCase());
    if (id) return id;
    return isSpdxExpression(t) ? t : undefined;
  };
  for (const license of [project?.license, poetry?.license]) {
    if (typeof license === "string") return asExpression(license);
    const text = table(license)?.text;
    if (text !== undefined) return asExpression(text);
  }
  const classifiers = [project?.classifiers, poetry?.classifiers].find(Array.isArray) as
    | unknown[]
    | undefined;
  const ids = [
    ...new Set(
      (classifiers ?? [])
        .filter((c): c is string => typeof c === "string" && c.startsWith("License :: "))
        .map((c) => classifierLicense(c.slice("License :: ".length)))
        .filter((id): id is string => id !== undefined),
    ),
  ];
  return ids.length ? ids.join(" AND ") : undefined;
}

export interface GitFacts {
  readonly remoteUrl?: string;
  readonly revision?: string;
  /** The last commit's time, seconds since the epoch. */
  readonly commitTime?: number;
}

/** Whether `dir` or a directory above it holds `.git` (a directory, or a worktree's file), as git looks. */
export async function insideGitTree(dir: string): Promise<boolean> {
  for (let d = resolve(dir); ; d = dirname(d)) {
    if (
      await lstat(join(d, ".git")).then(
        () => true,
        () => false,
      )
    )
      return true;
    if (dirname(d) === d) return false;
  }
}

/** git's facts of the work tree `dir` is in (nothing when it is not in one, or git is missing). */
export async function gitFacts(dir: string, env: Env): Promise<GitFacts> {
  const git = async (...args: string[]) => {
    try {
      return await exec("git", ["-C", dir, ...args], { env, allowFailure: true, doing: `git ${args[0]}` });
    } catch {
      return undefined;
    }
  };
  // Not in a repository (no `.git` here or above, no GIT_DIR): no process started for nothing.
  if (!env.GIT_DIR && !(await insideGitTree(dir))) return {};
  // Three questions at once (a build waits for them; each is a process), then at most one more.
  const [where, head, config] = await Promise.all([
    // "true" and the branch's ref ("HEAD" when detached; an error, after "true", before the first commit).
    git("rev-parse", "--is-inside-work-tree", "--symbolic-full-name", "HEAD"),
    git("log", "-1", "--no-show-signature", "--format=%H %ct"),
    git("config", "--get-regexp", "^(branch\\..*\\.remote|remote\\..*\\.url|url\\..*\\.insteadof)$"),
  ]);
  const [inside, ref] = where?.stdout.split("\n") ?? [];
  if (inside !== "true") return {};
  const last = head?.code === 0 ? head.stdout.trim().split("\n").at(-1) : undefined;
  const [hash, time] = last?.split(" ") ?? [];
  const revision = hash && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(hash) ? hash : undefined;
  const branch = ref?.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : undefined;
  const settings = (config?.code === 0 ? config.stdout.split("\n") : []).flatMap((line) => {
    const i = line.indexOf(" ");
    return i > 0 ? [[line.slice(0, i), line.slice(i + 1)] as const] : [];
  });
  const urls = new Map<string, string>();
  for (const [k, v] of settings)
    if (k.startsWith("remote.") && k.endsWith(".url") && !urls.has(k.slice(7, -4)))
      urls.set(k.slice(7, -4), v);
  // The remote the current branch tracks, else `origin`, else the first one by name.
  // (git takes the last value of a key set more than once.)
  const tracked = branch ? settings.filter(([k]) => k === `branch.${branch}.remote`).at(-1)?.[1] : undefined;
  const remotes = [...urls.keys()].sort();
  const remote = [tracked, "origin", remotes[0]].find((r) => r && urls.has(r));
  // git rewrites a URL by `url.<base>.insteadOf`: then it is asked for the URL it uses.
  const rewritten = settings.some(([k]) => k.startsWith("url.") && k.endsWith(".insteadof"));
  const remoteUrl = !remote
    ? undefined
    : rewritten
      ? await git("remote", "get-url", remote).then((r) => (r?.code === 0 ? r.stdout.trim() : undefined))
      : urls.get(remote);
  return {
    ...(remoteUrl ? { remoteUrl } : {}),
    ...(revision ? { revision } : {}),
    ...(time && /^\d+$/.test(time) ? { commitTime: Number(time) } : {}),
  };
}

/** The project's license from its pyproject.toml (none when it has none or it cannot be read). */
export async function projectLicense(dir: string): Promise<string | undefined> {
  const text = await readFile(join(dir, "pyproject.toml"), "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return pyprojectLicense(parseToml(text, join(dir, "pyproject.toml")));
  } catch {
    return undefined;
  }
}

/**
 * The labels of an image of the project in `dir` on `baseName`: git and pyproject read here;
 * `created` is SOURCE_DATE_EPOCH when given, else the last commit's time, else left out.
 */
export async function projectLabels(
  dir: string,
  o: { readonly sourceDateEpoch?: number; readonly baseName?: string; readonly baseDigest?: string },
  env: Env,
  /** git's facts of `dir` when already asked (`gitFacts`). */
  facts?: Promise<GitFacts>,
): Promise<Record<string, string>> {
  const [git, licenses] = await Promise.all([facts ?? gitFacts(dir, env), projectLicense(dir)]);
  return imageLabels({
    remoteUrl: git.remoteUrl,
    revision: git.revision,
    created: o.sourceDateEpoch ?? git.commitTime,
    licenses,
    baseName: o.baseName,
    baseDigest: o.baseDigest,
  });
}

/**
 * The image the plan's final stage starts from: its `FROM`, followed through the stages it names,
 * with `${ARG}` replaced by the build argument given, else the plan's default for it.
 */
export function finalBaseImage(
  plan: Pick<BuildPlan, "stages" | "args">,
  buildArgs: Readonly<Record<string, string>>,
): string | undefined {
  const byName = new Map(plan.stages.map((s) => [s.name, s]));
  let from = plan.stages.at(-1)?.from;
  for (let hops = 0; from !== undefined && byName.has(from) && hops <= plan.stages.length; hops++)
    from = byName.get(from)!.from;
  if (from === undefined || byName.has(from)) return undefined;
  const value = (name: string) => buildArgs[name] ?? plan.args.find((a) => a.name === name)?.default;
  let unresolved = false;
  const image = from.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => {
    const v = value(name);
    if (v === undefined) unresolved = true;
    return v ?? "";
  });
  return unresolved || !image ? undefined : image;
}
