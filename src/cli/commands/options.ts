/** Flags shared by build and compare, and their parsing into library options. */
import { type Command, Option } from "commander";
import { ENGINE_IDS, type EngineId } from "../../engines/index.js";
import type { ExportTarget } from "../../engines/types.js";
import { SlimwheelError } from "../../errors.js";
import type { ImageSources } from "../../pipeline/build-image.js";
import { strategies } from "../../plan/strategies/index.js";

export function addImageSourceOptions(cmd: Command): Command {
  return cmd
    .option("--builder-image <ref>", "the image wheels are built in (default: python:X.Y)")
    .option("--runtime-image <ref>", "the image that ships (default: python:X.Y-slim)")
    .option("--index-url <url>", "package index for pip (a build argument; never stored in the final image)")
    .option("--extra-index-url <url>", "an extra package index")
    .option("--trusted-host <host>", "an index host served without valid TLS")
    .option("--python <X.Y>", "Python version, over what the project declares");
}

const collectName = (v: string, prev: string[] = []) => [...prev, v];

/** `--group NAME` and `--extra NAME` (repeatable): what of a lock's optional parts to install. */
export function addSelectionOptions(cmd: Command): Command {
  return cmd
    .option(
      "--group <name>",
      "also install this dependency group (dev groups are left out by default)",
      collectName,
      [],
    )
    .option("--extra <name>", "also install this optional extra of the project", collectName, []);
}

/** The groups and extras the selection options asked for (undefined when none: [tool.slimwheel] then decides). */
export function selection(o: Record<string, unknown>): { groups?: string[]; extras?: string[] } {
  const given = (k: string) => ((o[k] as string[] | undefined)?.length ? (o[k] as string[]) : undefined);
  return { groups: given("group"), extras: given("extra") };
}

export function addEngineOption(cmd: Command): Command {
  return cmd.addOption(
    new Option(
      "--engine <engine>",
      "docker (BuildKit), buildah or podman; default: the first available",
    ).choices([...ENGINE_IDS]),
  );
}

export const strategyHelp = (): string =>
  `\nStrategies:\n${strategies.map((s) => `  ${s.id.padEnd(13)}${s.title}`).join("\n")}\n(slimwheel dockerfile --help explains each)`;

export function imageSources(o: Record<string, unknown>): ImageSources {
  const pick = (k: string) => (typeof o[k] === "string" ? (o[k] as string) : undefined);
  const out: Record<string, string> = {};
  for (const [k, flag] of [
    ["builderImage", "builderImage"],
    ["runtimeImage", "runtimeImage"],
    ["indexUrl", "indexUrl"],
    ["extraIndexUrl", "extraIndexUrl"],
    ["trustedHost", "trustedHost"],
  ] as const) {
    const v = pick(flag);
    if (v) out[k] = v;
  }
  return out;
}

export function engineOf(o: Record<string, unknown>): EngineId | undefined {
  return typeof o.engine === "string" ? (o.engine as EngineId) : undefined;
}

export function parseOutput(spec: string): ExportTarget {
  const m = /^(oci|oci-archive|docker-archive):(.+)$/.exec(spec);
  if (!m)
    throw new SlimwheelError("usage", `--output "${spec}" is not TYPE:PATH`, {
      hint: "use oci:DIR (an OCI layout), oci-archive:FILE.tar or docker-archive:FILE.tar",
    });
  const path = m[2]!;
  if (m[1] === "oci")
    return path.endsWith(".tar") ? { kind: "oci-archive", path } : { kind: "oci-dir", path };
  return m[1] === "oci-archive" ? { kind: "oci-archive", path } : { kind: "docker-archive", path };
}

export function resolveDir(cwd: string, dir: string): string {
  return dir.startsWith("/") ? dir : `${cwd}/${dir}`.replace(/\/\.$/, "");
}
