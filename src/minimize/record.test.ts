import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { installedFilesPaths, parseCsv, parseMetadata, recordPaths } from "./record.js";

describe("RECORD", () => {
  it("resolves paths against the site directory, including ../../bin entries and CSV quoting", () => {
    const record = [
      "foo/__init__.py,sha256=abc,12",
      '"foo/we,ird ""name"".py",sha256=def,3',
      "../../../bin/foo-cli,sha256=x,40",
      "foo-1.0.dist-info/RECORD,,",
      "",
    ].join("\r\n");
    expect(recordPaths(record, "/usr/local/lib/python3.11/site-packages")).toEqual([
      "/usr/local/lib/python3.11/site-packages/foo/__init__.py",
      '/usr/local/lib/python3.11/site-packages/foo/we,ird "name".py',
      "/usr/local/bin/foo-cli",
      "/usr/local/lib/python3.11/site-packages/foo-1.0.dist-info/RECORD",
    ]);
  });

  it("reads egg-info installed-files.txt relative to the egg-info directory", () => {
    expect(installedFilesPaths("../foo/__init__.py\n../../../../bin/foo\n", "/s/foo.egg-info")).toEqual([
      "/s/foo/__init__.py",
      "/bin/foo",
      "/s/foo.egg-info",
    ]);
  });

  it("parses CSV written with any quoting (property)", () => {
    const field = fc.string({ maxLength: 12 }).filter((s) => !s.includes("\r"));
    fc.assert(
      fc.property(fc.array(fc.tuple(field, field, field), { minLength: 1, maxLength: 8 }), (rows) => {
        const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
        const text = rows.map((r) => r.map(quote).join(",")).join("\n");
        const nonEmpty = rows.filter((r) => r.some((f) => f !== ""));
        expect(parseCsv(text)).toEqual(nonEmpty);
      }),
    );
  });

  it("takes run-time Requires-Dist only (not extras)", () => {
    const meta =
      "Metadata-Version: 2.1\nName: Gunicorn\nRequires-Dist: setuptools (>=3.0)\nRequires-Dist: eventlet ; extra == 'eventlet'\nRequires-Dist: Zope.Interface>=5; python_version>'3'\n\nbody";
    expect(parseMetadata(meta)).toEqual({ name: "gunicorn", requires: ["setuptools", "zope-interface"] });
  });
});
