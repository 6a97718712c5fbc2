/**
 * The build context as Docker sees it: the files that survive `.dockerignore` (Docker's matching
 * semantics, via @balena/dockerignore: Go filepath.Match plus `**`, `!` re-includes, last match
 * wins), and warnings for secrets that would be sent to the builder.
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
  return ig.filter([...paths]);
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

/** Sensible `.dockerignore` lines for a Python project (what `slimwheel dockerfile` writes). */
export const DEFAULT_DOCKERIGNORE = [
  ".git",
  ".gitignore",
  "**/__pycache__",
  "**/*.py[cod]",
  "*.egg-info",
  ".venv",
  "venv",
  ".tox",
  ".nox",
  ".pytest_cache",
  ".mypy_cache",
  ".ruff_cache",
  ".coverage",
  "htmlcov",
  "build",
  "dist",
  "node_modules",
  ".env",
  ".env.*",
  "!.env.example",
  "*.pem",
  "*.key",
  ".aws",
  ".ssh",
  ".idea",
  ".vscode",
  "Dockerfile*",
  ".dockerignore",
];
