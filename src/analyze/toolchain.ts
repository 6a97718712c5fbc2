/**
 * Which files of an image are build tools: compilers, assemblers, linkers, headers, static
 * libraries. None of them is needed to run a Python app; their bytes in a final image are waste.
 */
const PATTERNS: readonly RegExp[] = [
  /^(usr\/)?(local\/)?include\//,
  /^(usr\/)?lib\/gcc\//,
  /^(usr\/)?libexec\/gcc\//,
  /^(usr\/)?bin\/((x86_64|aarch64|i686|arm)-[a-z0-9_-]*-)?(gcc|g\+\+|c\+\+|cc|cpp|gfortran|as|ld|ld\.bfd|ld\.gold|gold|collect2|lto-dump)(-\d+)?$/,
  /^(usr\/)?lib\/[a-z0-9_-]*-linux-gnu\/[^/]+\.a$/,
  /^(usr\/)?lib\/[^/]+\.a$/,
  /^(usr\/)?lib\/(x86_64|aarch64)-linux-gnu\/libbfd[^/]*\.so/,
  /^(usr\/)?lib\/[a-z0-9_-]*-linux-gnu\/libopcodes[^/]*\.so/,
  /^(usr\/)?lib\/[a-z0-9_-]*-linux-gnu\/libctf[^/]*\.so/,
  /^(usr\/)?lib\/[a-z0-9_-]*-linux-gnu\/libasan[^/]*\.so/,
  /^(usr\/)?lib\/[a-z0-9_-]*-linux-gnu\/libtsan[^/]*\.so/,
  /^(usr\/)?lib\/[a-z0-9_-]*-linux-gnu\/libubsan[^/]*\.so/,
  /^(usr\/)?lib\/[a-z0-9_-]*-linux-gnu\/liblsan[^/]*\.so/,
  /^(usr\/)?lib\/[a-z0-9_-]*-linux-gnu\/libisl[^/]*\.so/,
];

/** Whether a path in a layer (no leading slash) is a build tool or header. */
export function isToolchainPath(path: string): boolean {
  const p = path.replace(/^\.?\//, "");
  return PATTERNS.some((re) => re.test(p));
}
