import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { imageSpecs, mmdebstrapArgs } from "./images.js";

describe("the test bed's base images", () => {
  it("carry the apt settings of Debian's official images: their hooks write each file exactly", () => {
    for (const spec of imageSpecs("3.11")) {
      const root = mkdtempSync(join(tmpdir(), "slimwheel-aptconf-"));
      try {
        mkdirSync(join(root, "etc/apt/apt.conf.d"), { recursive: true });
        const hooks = mmdebstrapArgs(spec, "bookworm", { archive: "http://127.0.0.1:1/debian" }, "/dev/null")
          .filter((a) => a.startsWith("--customize-hook=") && a.includes("apt.conf.d"))
          .map((a) => a.slice("--customize-hook=".length));
        expect(hooks.length).toBe(Object.keys(spec.aptConfig).length);
        // mmdebstrap runs each hook with sh, the root directory as $1.
        for (const h of hooks) execFileSync("sh", ["-c", h, "sh", root]);
        for (const [name, content] of Object.entries(spec.aptConfig))
          expect(readFileSync(join(root, "etc/apt/apt.conf.d", name), "utf8")).toBe(content);
        expect(spec.aptConfig["docker-clean"]).toMatch(
          /DPkg::Post-Invoke \{ "rm -f \/var\/cache\/apt\/archives\/\*\.deb/,
        );
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    }
  });
});
