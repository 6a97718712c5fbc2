/**
 * The slimwheel library: what the `slimwheel` command does, as functions, in pipeline order
 * (docs/architecture.md, docs/api.md). The pure steps (`readProject` aside, which reads files)
 * need nothing else: `assemblePlan` and `renderDockerfile` work without an engine. The operations
 * that build or read images take a `Context` (`{ signal, reporter, cwd, env, now }`) and report
 * progress only through its `Reporter`. Every error they mean to throw is a `SlimwheelError`
 * (`code`, `message`, `hint`, `exitCode`).
 *
 * @example
 * ```ts
 * import { readProject, assemblePlan, renderDockerfile } from "slimwheel";
 * const project = await readProject("./my-app");
 * const plan = assemblePlan(project, "slimwheel");
 * console.log(renderDockerfile(plan, { version: "0.1.0", projectName: project.name }));
 * ```
 *
 * @packageDocumentation
 */

/** What every operation may consult about its surroundings (cancellation, progress, cwd, env, clock). */
export type { Context } from "./context.js";
/** The container engines slimwheel drives: docker (BuildKit), buildah, podman. */
export type { EngineId, EngineInfo } from "./engines/types.js";
/** Errors: `SlimwheelError` (code, message, hint, cause), its exit codes, and the type guard. */
export { type ErrorCode, ExitCode, isSlimwheelError, SlimwheelError, wrapError } from "./errors.js";
/** Generate: the files a committed Dockerfile needs, and whether the committed ones are current (dockerfile --check). */
export {
  type CommittedFile,
  type CommittedState,
  committedDockerfileState,
  type DockerfileOptions,
  planDockerfileFiles,
} from "./generate/dockerfile-files.js";
/** Inspect: an image's layers, waste and findings, read from any `ImageSource` (streaming). */
export { type Finding, type FindingId, type InspectReport, inspectImage } from "./inspect/index.js";
/** Lint: findings in any Dockerfile, each with its place, cost and fix (docs/lint.md). */
export {
  failsAt,
  type LintOptions,
  type LintResult,
  lintFile,
  lintFile as lint,
  lintText,
} from "./lint/lint.js";
/** The lint rules, each with its id, severity, title and examples. */
export { rules as lintRules } from "./lint/rules/index.js";
export type { Finding as LintFinding, Rule as LintRule, Severity } from "./lint/types.js";
/** Push: an image of an OCI layout (`loadLayoutImage`) to a registry, without an engine. */
export { loadLayoutImage, type StoredImage } from "./oci/image-writer.js";
/** Images to read: parse a reference (`oci:DIR`, `docker://HOST/REPO:TAG`, …) and open it. */
export { type ImageRef, openImageSource, parseImageRef } from "./oci/ref.js";
export { type PushOptions, type PushResult, pushImage } from "./oci/registry.js";
export type { ImageManifest, ImageSource, LayerBlob } from "./oci/source.js";
/** Assemble: a strategy's plan for a project (pure; refusals are input errors). */
export { assemblePlan } from "./pipeline/assemble.js";
/** Build: the whole pipeline — detect runtime needs, assemble, render, build, prove, publish. */
export {
  type BuildOptions,
  type BuildOutcome,
  buildImage,
  type ImageSources,
} from "./pipeline/build-image.js";
/** Compare: build several strategies cold and warm, and measure them (`compare` is the same function). */
export {
  type CompareOptions,
  type CompareReport,
  type CompareRow,
  compareStrategies,
  compareStrategies as compare,
} from "./pipeline/compare.js";
export type { RuntimeNeeds } from "./pipeline/detect.js";
/** The runtime a build ships: `minimal` (the slimwheel strategy's default on glibc) or `slim`. */
export { type RuntimeKind, resolveRuntime } from "./pipeline/minimize.js";
export type { StrategyOptions } from "./plan/options.js";
/** The strategies (`full`, `slim`, …, `slimwheel`), each with its id, title and summary. */
export { DEFAULT_STRATEGY, type Strategy, strategies } from "./plan/strategies/index.js";
export type { BuildPlan, Stage, Step } from "./plan/types.js";
/** Read: what a project directory declares, each fact with its reason. */
export { type Project, type ReadProjectOptions, readProject } from "./project/read.js";
/** Render: a plan as a commented Dockerfile and its .dockerignore (pure). */
export {
  GENERATED_MARKER,
  type RenderOptions,
  renderDockerfile,
  renderDockerignore,
} from "./render/dockerfile/index.js";
/** Progress: the events operations report, a reporter that prints them, one that drops them. */
export { type ReportEvent, type Reporter, silentReporter, step, streamReporter } from "./reporter/index.js";
export {
  attachSbom,
  collectImage as collectSbomContents,
  renderSbom,
  type SbomFormat,
  writeSbomFor,
} from "./sbom/index.js";
