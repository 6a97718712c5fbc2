/**
 * The slimwheel library: what the `slimwheel` command does, as functions, in pipeline order
 * (docs/architecture.md). Every operation takes a `Context` (`{ signal, reporter, cwd, env, now }`)
 * and reports progress only through its `Reporter`; errors are `SlimwheelError`s.
 *
 * @example
 * ```ts
 * import { readProject, assemblePlan, renderDockerfile } from "slimwheel";
 * const project = await readProject("./my-app");
 * const plan = assemblePlan(project, "slimwheel");
 * console.log(renderDockerfile(plan, { version: "0.1.0" }));
 * ```
 */
export type { Context } from "./context.js";
export type { EngineId, EngineInfo } from "./engines/types.js";
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
export { failsAt, type LintResult, lintFile, lintText } from "./lint/lint.js";
export { rules as lintRules } from "./lint/rules/index.js";
export type { Finding as LintFinding, Rule as LintRule, Severity } from "./lint/types.js";
export { type ImageRef, openImageSource, parseImageRef } from "./oci/ref.js";
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
/** Compare: build several strategies cold and warm, and measure them. */
export {
  type CompareOptions,
  type CompareReport,
  type CompareRow,
  compareStrategies as compare,
} from "./pipeline/compare.js";
export type { RuntimeNeeds } from "./pipeline/detect.js";
export type { StrategyOptions } from "./plan/options.js";
export { DEFAULT_STRATEGY, type Strategy, strategies } from "./plan/strategies/index.js";
export type { BuildPlan, Stage, Step } from "./plan/types.js";
/** Read: what a project directory declares, each fact with its reason. */
export { type Project, type ReadProjectOptions, readProject } from "./project/read.js";
/** Render: a plan as a commented Dockerfile and its .dockerignore (pure). */
export { type RenderOptions, renderDockerfile, renderDockerignore } from "./render/dockerfile/index.js";
export { type ReportEvent, type Reporter, silentReporter, step, streamReporter } from "./reporter/index.js";
export {
  attachSbom,
  collectImage as collectSbomContents,
  renderSbom,
  type SbomFormat,
  writeSbomFor,
} from "./sbom/index.js";
