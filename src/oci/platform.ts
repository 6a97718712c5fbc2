/**
 * Target platforms (`--platform linux/amd64,linux/arm64`) as the OCI image spec names them
 * (image-index.md: `architecture` and `os` as Go's GOARCH and GOOS, `variant` for the CPU
 * variant, e.g. `v7` of `arm`), and whether this machine can run a platform's programs — what a
 * RUN step of a foreign platform needs: natively, or through a binfmt_misc handler (qemu-user).
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { SlimwheelError } from "../errors.js";

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

/** Other spellings of an architecture (uname, Debian, Rust) → its GOARCH name. */
const ARCH_ALIASES: Readonly<Record<string, string>> = {
  x86_64: "amd64",
  "x86-64": "amd64",
  aarch64: "arm64",
  armhf: "arm",
  armel: "arm",
  i386: "386",
  i686: "386",
  ppc64el: "ppc64le",
};

/** The GOARCH values an image may name (the image spec's `architecture`). */
const KNOWN_ARCHES = new Set([
  "amd64",
  "arm64",
  "arm",
  "386",
  "ppc64le",
  "s390x",
  "riscv64",
  "mips64le",
  "loong64",
]);

/** Variants of each architecture the spec lists (image-index.md, "Platform Variants"). */
const VARIANTS: Readonly<Record<string, readonly string[]>> = {
  arm: ["v6", "v7", "v8"],
  arm64: ["v8"],
  amd64: ["v1", "v2", "v3", "v4"],
};

const HINT = "write OS/ARCH[/VARIANT], comma-separated for several: linux/amd64, linux/arm64, linux/arm/v7";

/** `linux/arm64`, `linux/arm/v7`, `linux/aarch64` → a platform; bad input is a usage error. */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().split("/");
  const bad = (why: string) => new SlimwheelError("usage", `--platform "${text}": ${why}`, { hint: HINT });
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "")) throw bad("not OS/ARCH[/VARIANT]");
  const os = parts[0]!.toLowerCase();
  const raw = parts[1]!.toLowerCase();
  const architecture = ARCH_ALIASES[raw] ?? raw;
  if (os !== "linux") throw bad(`slimwheel builds Linux images, not ${os}`);
  if (!KNOWN_ARCHES.has(architecture))
    throw bad(`unknown architecture "${parts[1]}" (known: ${[...KNOWN_ARCHES].join(", ")})`);
  let variant = parts[2]?.toLowerCase();
  // armhf is Debian's arm/v7; arm alone means v7 too, as Docker and containerd normalize it.
  if (architecture === "arm" && variant === undefined) variant = raw === "armel" ? "v6" : "v7";
  if (variant !== undefined && !(VARIANTS[architecture] ?? []).includes(variant))
    throw bad(
      `"${variant}" is not a variant of ${architecture}${VARIANTS[architecture] ? ` (${VARIANTS[architecture]!.join(", ")})` : ""}`,
    );
  // arm64/v8 is arm64: the spec's only arm64 variant, left out the way Docker and containerd do.
  if (architecture === "arm64" && variant === "v8") variant = undefined;
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** A comma list of platforms, each once. */
export function parsePlatforms(text: string): Platform[] {
  const list = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new SlimwheelError("usage", "--platform names no platform", { hint: HINT });
  const out: Platform[] = [];
  for (const item of list) {
    const p = parsePlatform(item);
    if (out.some((q) => samePlatform(p, q)))
      throw new SlimwheelError("usage", `--platform names ${formatPlatform(p)} twice`, {
        hint: "name each platform once",
      });
    out.push(p);
  }
  return out;
}

/** `linux/arm/v7`: the form the engines' `--platform` takes. */
export const formatPlatform = (p: Platform): string =>
  `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;

export const samePlatform = (a: Platform, b: Platform): boolean =>
  a.os === b.os && a.architecture === b.architecture && (a.variant ?? "") === (b.variant ?? "");

/** node's `process.arch` → GOARCH. */
const NODE_ARCH: Readonly<Record<string, string>> = {
  x64: "amd64",
  arm64: "arm64",
  arm: "arm",
  ia32: "386",
  ppc64: "ppc64le",
  s390x: "s390x",
  riscv64: "riscv64",
  loong64: "loong64",
};

/** The platform of this machine (node's view of it). */
export function hostPlatform(arch: string = process.arch): Platform {
  return { os: "linux", architecture: NODE_ARCH[arch] ?? arch };
}

/** The name qemu-user's binfmt_misc handler has for each architecture (Debian's binfmt-support / systemd-binfmt). */
const QEMU_NAME: Readonly<Record<string, string>> = {
  amd64: "x86_64",
  arm64: "aarch64",
  arm: "arm",
  "386": "i386",
  ppc64le: "ppc64le",
  s390x: "s390x",
  riscv64: "riscv64",
  mips64le: "mips64el",
  loong64: "loongarch64",
};

/** An enabled binfmt_misc handler: its name and interpreter. */
export interface BinfmtHandler {
  readonly name: string;
  readonly interpreter?: string;
}

/** The enabled handlers under `dir` (default /proc/sys/fs/binfmt_misc); none when it is not mounted. */
export async function readBinfmtHandlers(dir = "/proc/sys/fs/binfmt_misc"): Promise<BinfmtHandler[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: BinfmtHandler[] = [];
  for (const name of names.sort()) {
    if (name === "register" || name === "status") continue;
    const text = await readFile(join(dir, name), "utf8").catch(() => "");
    if (!/^enabled$/m.test(text)) continue;
    const interpreter = /^interpreter (\S+)/m.exec(text)?.[1];
    out.push(interpreter ? { name, interpreter } : { name });
  }
  return out;
}

/**
 * Whether a machine of `host` runs programs of `target`: natively (the same architecture), or through an enabled
 * binfmt_misc handler of qemu for that architecture (`qemu-aarch64`, or a handler whose
 * interpreter is `qemu-aarch64[-static]`).
 */
export function runsPlatform(host: Platform, target: Platform, handlers: readonly BinfmtHandler[]): boolean {
  // Only the host's own architecture counts as native: a 64-bit kernel may run its 32-bit
  // programs (386 on amd64) or not (kernels built without IA32 emulation, as this project's test
  // machines), and nothing short of running one tells; --no-emulation-check is for that case.
  if (target.architecture === host.architecture) return true;
  const qemu = QEMU_NAME[target.architecture];
  if (!qemu) return false;
  return handlers.some(
    (h) =>
      h.name === `qemu-${qemu}` ||
      (h.interpreter !== undefined && new RegExp(`/qemu-${qemu}(-static)?$`).test(h.interpreter)),
  );
}

/** The platforms of `targets` whose RUN steps this machine cannot execute. */
export function platformsNeedingEmulation(
  host: Platform,
  targets: readonly Platform[],
  handlers: readonly BinfmtHandler[],
): Platform[] {
  return targets.filter((t) => !runsPlatform(host, t, handlers));
}
