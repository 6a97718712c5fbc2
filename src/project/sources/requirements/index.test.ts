import { posix } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isSlimwheelError } from "../../../errors.js";
import { formatRequirement } from "../../../python/pep508.js";
import {
  escapesProject,
  flattenRequirements,
  logicalLines,
  parse,
  resolveRequirements,
  withoutCredentials,
} from "./index.js";

const tricky = `# production deps
--index-url https://pypi.internal.example/simple
--extra-index-url=https://extra.example/simple
--trusted-host pypi.internal.example
-f ./wheels
--only-binary=:all:
--pre

Flask[async] >= 2.2, < 3 ; python_version >= "3.8"   # a comment after a marker
requests==2.28.1 \\
    --hash=sha256:aaaa \\
    --hash sha256:bbbb
importlib-metadata>=3.6; python_version < "3.10"
-e ./libs/shared
-e git+https://git.example/repo.git@v1.0#egg=internal_tool
https://files.example/pkg-1.0-py3-none-any.whl#sha256=cccc
./local/pkg
uvicorn[standard]@ https://files.example/uvicorn-0.20.tar.gz
--frobnicate
`;

describe("requirements.txt", () => {
  it("joins continuations and strips comments, but keeps URL fragments", () => {
    expect(logicalLines("a \\\n  b\n# c\nd # e\nhttps://x/y#egg=z\n")).toEqual([
      { text: "a   b", line: 1 },
      { text: "d", line: 4 },
      { text: "https://x/y#egg=z", line: 5 },
    ]);
  });

  it("reads requirements, options, hashes, editables and references", () => {
    const f = parse(tricky, "requirements.txt");
    expect(f.requirements!.map((r) => formatRequirement(r.requirement))).toEqual([
      'Flask[async]>=2.2,<3; python_version >= "3.8"',
      "requests==2.28.1",
      'importlib-metadata>=3.6; python_version < "3.10"',
      "uvicorn[standard] @ https://files.example/uvicorn-0.20.tar.gz",
    ]);
    expect(f.requirements![1]!.hashes).toEqual(["sha256:aaaa", "sha256:bbbb"]);
    expect(f.requirements![1]!.at.line).toBe(10);
    expect(f.directReferences).toEqual([
      { kind: "path", target: "./libs/shared", editable: true, at: { file: "requirements.txt", line: 14 } },
      {
        kind: "vcs",
        target: "git+https://git.example/repo.git@v1.0#egg=internal_tool",
        name: "internal_tool",
        editable: true,
        at: { file: "requirements.txt", line: 15 },
      },
      {
        kind: "url",
        target: "https://files.example/pkg-1.0-py3-none-any.whl#sha256=cccc",
        editable: false,
        at: { file: "requirements.txt", line: 16 },
      },
      { kind: "path", target: "./local/pkg", editable: false, at: { file: "requirements.txt", line: 17 } },
    ]);
    expect(f.indexes).toEqual({
      indexUrl: "https://pypi.internal.example/simple",
      extraIndexUrls: ["https://extra.example/simple"],
      findLinks: ["./wheels"],
      trustedHosts: ["pypi.internal.example"],
      noIndex: false,
    });
    expect(f.pipOptions).toMatchObject({ onlyBinary: [":all:"], pre: true });
    expect(f.warnings.map((w) => w.message)).toContain('unknown pip option "--frobnicate" ignored');
  });

  it("warns when hash-checking mode would refuse an unhashed requirement", () => {
    const f = parse("a==1 --hash=sha256:00\nb==2\n", "r.txt");
    expect(f.warnings[0]!.message).toMatch(/1 requirement\(s\) have no --hash.*first: b, line 2/);
  });

  it("points at the line and column of a malformed requirement", () => {
    try {
      parse("flask==2.2.2\n\n  django>=banana\n", "requirements.txt");
      expect.unreachable();
    } catch (e) {
      expect(isSlimwheelError(e) && e.location).toBe("requirements.txt:3:11");
    }
  });

  it("rejects malformed hashes and options without values", () => {
    expect(() => parse("a==1 --hash=md5:00\n", "r.txt")).toThrow("is not a hash");
    expect(() => parse("-r\n", "r.txt")).toThrow("-r needs a value");
  });

  it("follows -r and -c relative to the including file, and reports cycles with their chain", () => {
    const files: Record<string, string> = {
      "requirements.txt": "-r requirements/base.txt\n-c constraints.txt\ngunicorn==20.1.0\n",
      "requirements/base.txt": "flask==2.2.2\n-r ../common.txt\n",
      "common.txt": "requests==2.28.1\n",
      "constraints.txt": "urllib3<2\n",
    };
    const read = (p: string) => {
      const c = files[p];
      if (c === undefined) throw new Error("ENOENT");
      return c;
    };
    const join = (from: string, rel: string) => posix.normalize(posix.join(posix.dirname(from), rel));
    const r = resolveRequirements("requirements.txt", read, join);
    expect(r.files).toEqual(["requirements.txt", "requirements/base.txt", "common.txt", "constraints.txt"]);
    expect(r.facts.requirements!.map((d) => d.requirement.key)).toEqual(["gunicorn", "flask", "requests"]);
    expect(r.constraints.map((d) => d.requirement.key)).toEqual(["urllib3"]);

    files["common.txt"] = "-r requirements/base.txt\n";
    expect(() => resolveRequirements("requirements.txt", read, join)).toThrow(
      "include cycle: requirements.txt → requirements/base.txt → common.txt → requirements/base.txt",
    );
    files["common.txt"] = "-r missing.txt\n";
    expect(() => resolveRequirements("requirements.txt", read, join)).toThrow(
      "cannot read missing.txt (included from common.txt:1)",
    );
  });

  it("never throws anything but the typed input error on arbitrary content (10k cases)", () => {
    const piece = fc.constantFrom(
      "flask",
      "==",
      "2.2",
      " ",
      "\n",
      "\\\n",
      "#",
      "-r",
      "-e",
      "--hash=sha256:ab",
      "--index-url",
      ";",
      "python_version",
      "'3.8'",
      "[x]",
      "@",
      "https://x/y.whl",
      "./p",
      "<",
      ",",
      "--pre",
      "=",
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 80 }),
          fc.array(piece, { maxLength: 20 }).map((a) => a.join("")),
        ),
        (text) => {
          try {
            parse(text, "r.txt");
          } catch (e) {
            if (!isSlimwheelError(e) || e.code !== "input" || !e.location?.startsWith("r.txt:")) throw e;
          }
        },
      ),
      { numRuns: 10_000 },
    );
  });
});

describe("includes: list, escape, flattening", () => {
  const join = (from: string, rel: string) => posix.normalize(posix.join(posix.dirname(from), rel));
  const resolver = (files: Record<string, string>) => (p: string) => {
    const c = files[p];
    if (c === undefined) throw new Error("ENOENT");
    return c;
  };

  it("lists every file with how it was reached", () => {
    const files = {
      "requirements.txt": "-r requirements/prod.txt\n-c constraints.txt\n",
      "requirements/prod.txt": "-r base.txt\ngunicorn==22.0.0\n",
      "requirements/base.txt": "flask>=3\n",
      "constraints.txt": "flask==3.0.3\nwerkzeug==3.0.3\n",
    };
    const r = resolveRequirements("requirements.txt", resolver(files), join);
    expect(r.includes).toEqual([
      { path: "requirements.txt", kind: "requirements" },
      { path: "requirements/prod.txt", kind: "requirements", from: "requirements.txt:1" },
      { path: "requirements/base.txt", kind: "requirements", from: "requirements/prod.txt:1" },
      { path: "constraints.txt", kind: "constraints", from: "requirements.txt:2" },
    ]);
    const flat = flattenRequirements(r);
    expect(flat.text).toBe("gunicorn==22.0.0\nflask>=3,==3.0.3\n");
    expect(flat.transitiveConstraints).toEqual(["werkzeug==3.0.3"]);
  });

  it("refuses includes that leave the project, naming file:line", () => {
    for (const bad of ["../../etc/passwd", "/etc/passwd", "../../outside.txt"]) {
      const files = { "requirements.txt": "flask\n", "requirements/base.txt": `requests\n-r ${bad}\n` };
      files["requirements.txt"] = "-r requirements/base.txt\n";
      let err: unknown;
      try {
        resolveRequirements("requirements.txt", resolver(files), join);
      } catch (e) {
        err = e;
      }
      expect(isSlimwheelError(err) && err.code).toBe("input");
      expect(String((err as Error).message)).toContain(`-r ${bad} points outside the project`);
      // The location is given once (the CLI prints `location: message`), not again in the message.
      expect((err as { location?: string }).location).toBe("requirements/base.txt:2");
      expect(String((err as Error).message)).not.toContain("base.txt:2");
    }
    expect(escapesProject("requirements/x.txt", "x.txt")).toBe(false);
  });

  it("keeps hashes and replaces index credentials by variables", () => {
    const files = {
      "requirements.txt":
        "--index-url https://deploy:s3cret@pypi.corp.example/simple\n--extra-index-url https://${TOKEN}@other.example/simple\n--find-links wheels/\nflask==3.0.3 --hash=sha256:aa --hash=sha256:bb\n",
    };
    const flat = flattenRequirements(resolveRequirements("requirements.txt", resolver(files), join));
    expect(flat.text).not.toContain("s3cret");
    expect(flat.text).toBe(
      "--index-url https://${PIP_INDEX_USER}:${PIP_INDEX_PASSWORD}@pypi.corp.example/simple\n--extra-index-url https://${TOKEN}@other.example/simple\n--find-links wheels/\nflask==3.0.3 --hash=sha256:aa --hash=sha256:bb\n",
    );
    expect(flat.credentials).toEqual([
      "https://${PIP_INDEX_USER}:${PIP_INDEX_PASSWORD}@pypi.corp.example/simple",
    ]);
    expect(withoutCredentials("https://pypi.org/simple")).toEqual({
      url: "https://pypi.org/simple",
      hadCredentials: false,
    });
  });
});
