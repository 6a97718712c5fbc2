import { describe, expect, it } from "vitest";
import { step, streamReporter } from "./index.js";

function capture(opts: { verbose?: boolean; quiet?: boolean; live?: boolean } = {}) {
  let text = "";
  const r = streamReporter({ write: (t) => (text += t), ...opts });
  return { r, text: () => text };
}

describe("streamReporter", () => {
  it("prints one line per finished step with its duration", async () => {
    const c = capture();
    let t = 0;
    await step(
      c.r,
      "a",
      "building",
      async () => 1,
      () => (t += 1500),
    );
    expect(c.text()).toBe("✓ building (1.5 s)\n");
  });

  it("marks a failed step and rethrows", async () => {
    const c = capture();
    await expect(
      step(c.r, "a", "pushing", async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(c.text()).toMatch(/^✗ pushing/);
  });

  it("quiet keeps warnings and failures, drops successes and info", () => {
    const c = capture({ quiet: true });
    c.r.emit({ type: "step-start", id: "x", title: "x" });
    c.r.emit({ type: "step-end", id: "x", ok: true });
    c.r.emit({ type: "log", level: "info", message: "hello" });
    c.r.emit({ type: "log", level: "warn", message: "careful" });
    expect(c.text()).toBe("warning: careful\n");
  });

  it("debug lines only with verbose", () => {
    const plain = capture();
    plain.r.emit({ type: "log", level: "debug", message: "details" });
    expect(plain.text()).toBe("");
    const verbose = capture({ verbose: true });
    verbose.r.emit({ type: "log", level: "debug", message: "details" });
    expect(verbose.text()).toBe("details\n");
  });

  it("on a TTY the running step is a status line that is cleared before the next line", () => {
    const c = capture({ live: true });
    c.r.emit({ type: "step-start", id: "x", title: "building" });
    c.r.emit({ type: "step-end", id: "x", ok: true });
    expect(c.text()).toBe("… building\r\u001b[2K✓ building\n");
  });
});
