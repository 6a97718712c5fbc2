import { describe, expect, it } from "vitest";
import { parseAptPolicy } from "./host.js";

describe("parseAptPolicy", () => {
  it("maps each package to its candidate, leaving out (none)", () => {
    const out = [
      "python3-flask:",
      "  Installed: (none)",
      "  Candidate: 2.2.2-3",
      "  Version table:",
      "     2.2.2-3 500",
      "no-such-thing:",
      "  Installed: (none)",
      "  Candidate: (none)",
      "",
    ].join("\n");
    expect([...parseAptPolicy(out)]).toEqual([["python3-flask", "2.2.2-3"]]);
  });
});
