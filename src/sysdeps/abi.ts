/**
 * The glibc/musl check: a wheel built for one C library never goes into an image of the other
 * (the classic "build wheels on Debian, install on Alpine" shortcut fails at import).
 */
import { SlimwheelError } from "../errors.js";
import type { ArtifactScan } from "./artifacts.js";

export type Libc = "glibc" | "musl";

/** The libc a wheel's platform tags require, or undefined for pure/any. */
export function wheelLibc(platform: string): Libc | undefined {
  if (platform.startsWith("manylinux")) return "glibc";
  if (platform.startsWith("musllinux_")) return "musl";
  return undefined; // linux_* (the builder's libc), any, other systems
}

/** Refuses artifacts built for the other libc than the final image's. `builtOn` is the builder's libc. */
export function checkAbi(scan: ArtifactScan, target: Libc, builtOn: Libc): void {
  const problems: string[] = [];
  for (const w of scan.wheels) {
    for (const t of w.tags) {
      const libc = wheelLibc(t.platform) ?? (t.platform.startsWith("linux_") ? builtOn : undefined);
      if (libc && libc !== target) {
        problems.push(`${w.name} ${w.version} (${t.platform}) is built for ${libc}`);
        break;
      }
    }
  }
  for (const e of scan.extensions) {
    if (e.elf.libc !== "unknown" && e.elf.libc !== target)
      problems.push(`${e.file} links ${e.elf.libc}'s C library`);
  }
  if (problems.length) {
    const unique = [...new Set(problems)];
    throw new SlimwheelError(
      "input",
      `wheels built for the wrong C library: the final image uses ${target}, but ${unique.slice(0, 3).join("; ")}${unique.length > 3 ? `; and ${unique.length - 3} more` : ""}`,
      {
        hint:
          target === "musl"
            ? "build the wheels on an Alpine (musl) builder (the alpine strategy does), or ship a Debian-based (glibc) image"
            : "build on a glibc builder (python:X, Debian) for a glibc image, or use the alpine strategy end to end",
      },
    );
  }
}
