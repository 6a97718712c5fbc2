/** What the project sources say, in one shape for every format (src/project/sources/*). */
import type { Marker } from "../python/markers.js";
import type { Requirement } from "../python/pep508.js";
import type { LockGraph } from "./lock-graph.js";

export interface Located {
  readonly file: string;
  readonly line?: number;
}

export const where = (at: Located | undefined): string =>
  at ? (at.line !== undefined ? `${at.file}:${at.line}` : at.file) : "";

export interface DeclaredRequirement {
  readonly requirement: Requirement;
  readonly at: Located;
  /** `--hash` values from requirements.txt (algorithm:hex). */
  readonly hashes?: readonly string[];
  readonly editable?: boolean;
}

/** A requirements.txt line that is a URL, a VCS URL or a local path rather than a PEP 508 name. */
export interface DirectReference {
  readonly kind: "url" | "vcs" | "path";
  readonly target: string;
  /** From `#egg=name`, when given. */
  readonly name?: string;
  readonly editable: boolean;
  readonly at: Located;
}

export interface LockedPackage {
  readonly name: string;
  /** PEP 503 normalized. */
  readonly key: string;
  readonly version?: string;
  /** When to install it (PEP 508 marker), if conditional. */
  readonly marker?: Marker;
  readonly hashes: readonly string[];
  readonly source?: {
    readonly kind: "registry" | "url" | "path" | "directory" | "editable" | "virtual" | "git";
    readonly url?: string;
  };
  readonly at: Located;
}

export interface PythonDeclaration {
  /** `exact`: a version to use (.python-version); `constraint`: a range (requires-python). */
  readonly kind: "exact" | "constraint";
  readonly value: string;
  readonly at: Located;
}

export interface IndexSettings {
  readonly indexUrl?: string;
  readonly extraIndexUrls: readonly string[];
  readonly findLinks: readonly string[];
  readonly trustedHosts: readonly string[];
  readonly noIndex: boolean;
}

export interface PipOptions {
  readonly noBinary: readonly string[];
  readonly onlyBinary: readonly string[];
  readonly preferBinary: boolean;
  readonly pre: boolean;
  readonly requireHashes: boolean;
}

/** A warning about the project, with where it comes from (file:line) when known. */
export interface ProjectWarning {
  readonly message: string;
  readonly at?: string;
}

export interface SourceWarning {
  readonly message: string;
  readonly at?: Located;
}

export interface BuildSystem {
  readonly requires: readonly string[];
  readonly backend?: string;
}

/** slimwheel's own configuration, `[tool.slimwheel]` in pyproject.toml (docs/config.md). */
export interface SlimwheelConfig {
  readonly python?: string;
  readonly strategy?: string;
  readonly command?: string;
  readonly port?: number;
  readonly buildPackages?: readonly string[];
  readonly runtimePackages?: readonly string[];
  readonly ignoreLock?: boolean;
  /** Dependency groups to install besides the main set (`groups = ["prod"]`). */
  readonly groups?: readonly string[];
  /** The project's own extras to install (`extras = ["postgres"]`). */
  readonly extras?: readonly string[];
  readonly indexUrl?: string;
  readonly dockerignore?: readonly string[];
  /** Paths a minimal runtime keeps besides its closure (`keep = ["/usr/share/misc/magic.mgc"]`). */
  readonly keep?: readonly string[];
  /** The slimwheel strategy's runtime: `minimal` (default) or `slim`. */
  readonly runtime?: "minimal" | "slim";
}

export type SourceId =
  | "requirements"
  | "pyproject"
  | "poetry"
  | "poetry-lock"
  | "uv-lock"
  | "pylock"
  | "pipfile"
  | "pipfile-lock"
  | "setup-cfg"
  | "setup-py"
  | "python-version"
  | "runtime-txt";

/** Everything one source file says. Fields a format does not have stay undefined. */
export interface SourceFacts {
  readonly source: SourceId;
  readonly file: string;
  readonly name?: string;
  readonly version?: string;
  readonly python?: PythonDeclaration;
  /** Direct runtime requirements. */
  readonly requirements?: readonly DeclaredRequirement[];
  readonly directReferences?: readonly DirectReference[];
  /** Optional dependencies (extras) by name. */
  readonly extras?: Readonly<Record<string, readonly DeclaredRequirement[]>>;
  /** Development or other non-runtime groups by name. */
  readonly groups?: Readonly<Record<string, readonly DeclaredRequirement[]>>;
  /**
   * For lock files: the packages to install for the runtime, each with its marker; for locks read
   * as a graph (`lockGraph`), every package the lock lists (the walk decides what is installed).
   */
  readonly locked?: readonly LockedPackage[];
  /** The lock as a graph (uv.lock, poetry.lock): readProject walks it for the target. */
  readonly lockGraph?: LockGraph;
  /** poetry.lock: the graph's roots are the project's declarations (pyproject.toml), not the lock. */
  readonly rootsFromProject?: boolean;
  readonly lockVersion?: string;
  /** pylock.toml: the dependency groups installed by default (`dependency_groups` in markers). */
  readonly defaultGroups?: readonly string[];
  readonly scripts?: Readonly<Record<string, string>>;
  readonly guiScripts?: Readonly<Record<string, string>>;
  readonly buildSystem?: BuildSystem;
  readonly dynamic?: readonly string[];
  readonly indexes?: IndexSettings;
  readonly pipOptions?: PipOptions;
  /** requirements.txt: files it includes with -r (requirements) and -c (constraints). */
  readonly includes?: readonly {
    readonly kind: "requirements" | "constraints";
    readonly path: string;
    readonly at: Located;
  }[];
  readonly slimwheel?: SlimwheelConfig;
  readonly warnings: readonly SourceWarning[];
}

/** A parser for one format: pure, `parse(content, path)`. */
export interface SourceFormat {
  readonly id: SourceId;
  readonly title: string;
  /** File names (relative to the project) this format reads, in preference order. */
  readonly files: readonly string[];
  /** `lock`: exact package set; `requirements`: a deployable list; `metadata`: the project's own declaration; `python`: only the Python version. */
  readonly role: "lock" | "requirements" | "metadata" | "python";
  readonly parse: (content: string, path: string) => SourceFacts;
}
