import { describe, expect, it } from "vitest";
import { findDebianMirror, parseDeb822, parseOneLine } from "./apt-sources.js";

const deb822 = `Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: https://vendor.example/node_20.x
Suites: nodistro
Components: main
`;

describe("apt sources", () => {
  it("reads deb822 stanzas", () => {
    const s = parseDeb822(deb822);
    expect(s).toHaveLength(3);
    expect(s[0]).toEqual({
      types: ["deb"],
      uris: ["http://mirror.example/debian"],
      suites: ["bookworm", "bookworm-updates"],
      components: ["main"],
    });
  });

  it("skips disabled stanzas", () => {
    expect(parseDeb822(`Enabled: no\nTypes: deb\nURIs: http://x/\nSuites: a\nComponents: main\n`)).toEqual(
      [],
    );
  });

  it("reads one-line entries with options and comments", () => {
    const s = parseOneLine(
      "# nothing\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main contrib # c\ndeb-src http://m.example/debian bookworm main\n",
    );
    expect(s).toHaveLength(2);
    expect(s[0]).toEqual({
      types: ["deb"],
      uris: ["http://m.example/debian"],
      suites: ["bookworm"],
      components: ["main", "contrib"],
    });
  });

  it("finds the archive and security mirrors for a codename, ignoring other vendors", () => {
    expect(findDebianMirror(parseDeb822(deb822), "bookworm")).toEqual({
      archive: "http://mirror.example/debian",
      security: "http://mirror.example/debian-security",
    });
    expect(findDebianMirror(parseDeb822(deb822), "trixie")).toBeUndefined();
  });
});
