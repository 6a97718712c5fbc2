/**
 * The build context as Docker sees it: the files that survive `.dockerignore` (Docker's matching
 * semantics, via @balena/dockerignore: Go filepath.Match plus `**`, `!` re-includes, last match
 * wins), and warnings for secrets that would be sent to the builder: by name (SECRET_PATTERNS)
 * and by content (SECRET_SIGNATURES over the first few KB of a file).
 */
import { createRequire } from "node:module";
import type { Ignore } from "@balena/dockerignore";

// CommonJS (`module.exports = factory`) whose typings declare an ES default export.
const dockerignore = createRequire(import.meta.url)("@balena/dockerignore") as (options?: {
  ignorecase?: boolean;
}) => Ignore;

export interface SecretFinding {
  readonly path: string;
  readonly what: string;
}

const SECRET_PATTERNS: readonly [RegExp, string][] = [
  [/(^|\/)\.env(\.(?!example$|sample$|template$|dist$)[^/]+)?$/, "environment file with secrets"],
  [/(^|\/)\.git(\/|$)/, "git history"],
  [/(^|\/)id_(rsa|dsa|ecdsa|ed25519)$/, "SSH private key"],
  [/\.(pem|key|p12|pfx)$/, "private key or certificate"],
  [/(^|\/)\.aws\/credentials$/, "AWS credentials"],
  [/(^|\/)\.ssh\//, "SSH directory"],
  [/(^|\/)\.(pypirc|netrc|npmrc)$/, "package-index credentials"],
  [/(^|\/)\.docker\/config\.json$/, "Docker registry credentials"],
  [/(^|\/)(credentials|service[-_]?account[^/]*|gcloud[^/]*)\.json$/, "cloud credentials"],
  [/(^|\/)terraform\.tfstate(\.backup)?$/, "Terraform state (may hold secrets)"],
  [/(^|\/)\.kube\/config$/, "Kubernetes credentials"],
];

/** The paths Docker would send, given `.dockerignore` lines (none: everything). */
export function filterContext(
  paths: readonly string[],
  dockerignoreLines: readonly string[] | undefined,
): string[] {
  if (!dockerignoreLines) return [...paths];
  const ig = dockerignore({ ignorecase: false });
  ig.add(dockerignoreLines.map((l) => l.trim()).filter((l) => l && !l.startsWith("#")));
  // Directory entries ("x/") are matched as Docker matches them: by their path without the slash.
  return paths.filter((p) => !ig.ignores(p.endsWith("/") ? p.slice(0, -1) : p));
}

/** Content signatures of secrets: what a file's first bytes say it is. */
export const SECRET_SIGNATURES: readonly [RegExp, string][] = [
  [/-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/, "private key (PEM header)"],
  // AWS access key ids; AWS's documented placeholder (…EXAMPLE) is not a secret.
  [/\b(?:AKIA|ASIA)(?![0-9A-Z]{9}EXAMPLE)[0-9A-Z]{16}\b/, "AWS access key id"],
];

/** How much of a file is read to look for signatures, and how many files at most. */
export const SIGNATURE_BYTES = 4096;
export const SIGNATURE_MAX_FILES = 2000;

/** Files never read for signatures (binary or generated). */
const NOT_SCANNED =
  /\.(whl|so|pyc|pyo|png|jpe?g|gif|ico|webp|pdf|zip|gz|tgz|bz2|xz|zst|tar|woff2?|ttf|otf|mp[34]|sqlite3?|db|bin|exe|dll)$/i;

/** Whether a file is worth reading for signatures (text-like, small enough, not already found by name). */
export const scanCandidate = (path: string, size: number): boolean =>
  !path.endsWith("/") && size > 0 && size <= 1024 * 1024 && !NOT_SCANNED.test(path);

/** What the start of a file says it holds, if it looks like a secret. Pure. */
export function secretInContent(head: string): string | undefined {
  return SECRET_SIGNATURES.find(([re]) => re.test(head))?.[1];
}

export function findSecrets(paths: readonly string[]): SecretFinding[] {
  const out: SecretFinding[] = [];
  const seenGit = new Set<string>();
  for (const p of paths) {
    for (const [re, what] of SECRET_PATTERNS) {
      if (!re.test(p)) continue;
      if (what === "git history") {
        const root = p.slice(0, p.indexOf(".git") + 4);
        if (seenGit.has(root)) break;
        seenGit.add(root);
        out.push({ path: root, what });
      } else out.push({ path: p, what });
      break;
    }
  }
  return out;
}

/**
 * Sensible `.dockerignore` lines for a Python project (what `slimwheel dockerfile` writes).
 * Secrets and caches use `**\/` so they are left out at every depth (`config/.env`,
 * `certs/server.key`), not only at the top.
 */
export const DEFAULT_DOCKERIGNORE = [
  "**/.git",
  ".gitignore",
  "**/__pycache__",
  "**/*.py[cod]",
  "**/*.egg-info",
  "**/.venv",
  "venv",
  ".tox",
  ".nox",
  "**/.pytest_cache",
  "**/.mypy_cache",
  "**/.ruff_cache",
  ".coverage",
  "htmlcov",
  "build",
  "dist",
  "**/node_modules",
  "**/.env",
  "**/.env.*",
  "!**/.env.example",
  "!**/.env.sample",
  "!**/.env.template",
  "**/*.pem",
  "**/*.key",
  "**/id_rsa*",
  "**/id_dsa*",
  "**/id_ecdsa*",
  "**/id_ed25519*",
  "**/.aws",
  "**/.ssh",
  "**/.netrc",
  "**/.pypirc",
  "**/*.sqlite3",
  ".idea",
  ".vscode",
  "Dockerfile*",
  ".dockerignore",
];

/**
 * The `.dockerignore` a strategy writes: the defaults, then the user's own lines (from their
 * `.dockerignore` and `[tool.slimwheel] dockerignore`) last, so the user's `!` exceptions win
 * (Docker: the last matching line decides).
 */
export function composeDockerignore(...userLines: readonly (readonly string[] | undefined)[]): string[] {
  const user = userLines
    .flatMap((l) => l ?? [])
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  return [...DEFAULT_DOCKERIGNORE, ...user.filter((l) => !DEFAULT_DOCKERIGNORE.includes(l))];
}
