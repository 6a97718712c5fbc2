/**
 * A BuildPlan: what a strategy decides, independent of any Dockerfile syntax. Pure data: the
 * renderer turns it into a Dockerfile, and the engines build that.
 */

export type Mount =
  | { readonly type: "bind"; readonly from?: string; readonly source: string; readonly target: string }
  | { readonly type: "cache"; readonly target: string; readonly id?: string };

/** Every step carries `why`, rendered as a comment above it. */
export type Step =
  | {
      readonly kind: "run";
      readonly why: string;
      readonly commands: readonly string[];
      readonly mounts?: readonly Mount[];
      /** `slimwheel lint` rules this step breaks on purpose (a classic strategy's known caveat), rendered as an inline ignore. */
      readonly lintIgnore?: readonly string[];
    }
  | {
      readonly kind: "copy";
      readonly why: string;
      readonly sources: readonly string[];
      readonly dest: string;
      readonly from?: string;
    }
  | { readonly kind: "env"; readonly why: string; readonly vars: Readonly<Record<string, string>> }
  | { readonly kind: "arg"; readonly why: string; readonly names: readonly string[] }
  | { readonly kind: "workdir"; readonly why: string; readonly path: string }
  | { readonly kind: "user"; readonly why: string; readonly user: string }
  | { readonly kind: "label"; readonly why: string; readonly labels: Readonly<Record<string, string>> }
  | { readonly kind: "expose"; readonly why: string; readonly port: number }
  /** `HEALTHCHECK CMD [...]`: an exec-form command the engine runs in the container now and then. */
  | { readonly kind: "healthcheck"; readonly why: string; readonly command: readonly string[] }
  /** A shell command runs as `sh -c "exec …"` so that `${PORT}` expands and signals reach the server. */
  | { readonly kind: "cmd"; readonly why: string; readonly command: string; readonly shell: boolean };

export interface Stage {
  readonly name: string;
  /** An image reference, `${ARG}` or an earlier stage's name. */
  readonly from: string;
  readonly why: string;
  readonly steps: readonly Step[];
}

export interface BuildArg {
  readonly name: string;
  readonly default?: string;
  readonly why: string;
}

/** The role of a layer of the final image, for reports (base → system → dependencies → app). */
export type LayerRole = "base" | "system" | "dependencies" | "app" | "config" | "build-tools" | "cleanup";

/** A file the build context needs that the project does not have (written next to the Dockerfile). */
export interface GeneratedFile {
  readonly path: string;
  readonly content: string;
  readonly why: string;
}

export interface BuildPlan {
  readonly strategy: string;
  /** One paragraph: what the strategy does and its trade-off. */
  readonly summary: string;
  readonly args: readonly BuildArg[];
  readonly stages: readonly Stage[];
  readonly generated: readonly GeneratedFile[];
  readonly dockerignore: readonly string[];
  /** Libc of the final image: a wheel built for the other one must never go in. */
  readonly libc: "glibc" | "musl";
  /** System packages the final image gets, with why (empty for strategies that install none). */
  readonly runtimePackages: readonly { readonly name: string; readonly why: string }[];
  readonly buildPackages: readonly string[];
  /** Where the built Python artifacts (wheels or a venv) are, for reading what they link. */
  readonly artifacts?: { readonly stage: string; readonly path: string };
  /** Command that proves the image works, when the plan knows one. */
  readonly smoke?: string;
}
