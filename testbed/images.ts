/**
 * The test bed's Python base images, built from Debian packages with mmdebstrap: a "builder"
 * (the role of the official full python:3.11 image: compilers, headers, -dev libraries) and a
 * "runtime" (the role of python:3.11-slim). Both have PEP 668's EXTERNALLY-MANAGED removed, as
 * the official images do not carry it, and `python`/`pip` resolve.
 */

export interface ImageSpec {
  readonly name: "builder" | "runtime";
  readonly repository: string;
  readonly tag: string;
  readonly include: readonly string[];
  /** Leave out docs, man pages and translations, as the official -slim images do. */
  readonly slim: boolean;
  /** Files in /etc/apt/apt.conf.d (name → content), as Debian's official images carry. */
  readonly aptConfig: Readonly<Record<string, string>>;
  readonly description: string;
}

const RUNTIME_PACKAGES = [
  "python3",
  "python3-pip",
  "python3-venv",
  "python-is-python3",
  "ca-certificates",
  "netbase",
  "tzdata",
];

/**
 * What the official full image (python:X on buildpack-deps:bookworm) carries on top of Python:
 * compilers, headers, VCS tools and the -dev libraries of buildpack-deps, so that the builder
 * plays its role faithfully (and weighs about as much).
 */
const BUILDER_EXTRA = [
  "python3-dev",
  "build-essential",
  "pkg-config",
  "autoconf",
  "automake",
  "libtool",
  "dpkg-dev",
  "file",
  "patch",
  "unzip",
  "xz-utils",
  "bzip2",
  "curl",
  "wget",
  "git",
  "mercurial",
  "openssh-client",
  "subversion",
  "procps",
  "default-libmysqlclient-dev",
  "libbz2-dev",
  "libcurl4-openssl-dev",
  "libdb-dev",
  "libevent-dev",
  "libffi-dev",
  "libgdbm-dev",
  "libglib2.0-dev",
  "libgmp-dev",
  "libjpeg-dev",
  "libkrb5-dev",
  "liblzma-dev",
  "libmagickcore-dev",
  "libmagickwand-dev",
  "libmaxminddb-dev",
  "libncurses5-dev",
  "libncursesw5-dev",
  "libpng-dev",
  "libpq-dev",
  "libreadline-dev",
  "libsqlite3-dev",
  "libssl-dev",
  "libwebp-dev",
  "libxml2-dev",
  "libxslt1-dev",
  "libyaml-dev",
  "zlib1g-dev",
  "libblas-dev",
  "liblapack-dev",
];

/**
 * The apt settings of Debian's official images (written by debuerreotype), which python:X and
 * python:X-slim inherit: downloaded .debs are deleted after every install, and nothing is kept
 * only because another package suggests it. Without them, a Dockerfile that does not run
 * `apt-get clean` would keep every .deb here and not on the real images.
 */
const DOCKER_APT_CONFIG: Readonly<Record<string, string>> = {
  "docker-clean": [
    'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };',
    'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };',
    'Dir::Cache::pkgcache "";',
    'Dir::Cache::srcpkgcache "";',
    "",
  ].join("\n"),
  "docker-autoremove-suggests": 'Apt::AutoRemove::SuggestsImportant "false";\n',
  "docker-no-languages": 'Acquire::Languages "none";\n',
};

export function imageSpecs(python: string): readonly ImageSpec[] {
  return [
    {
      name: "runtime",
      repository: "slimwheel-testbed/python",
      tag: `${python}-slim`,
      include: RUNTIME_PACKAGES,
      slim: true,
      aptConfig: DOCKER_APT_CONFIG,
      description: `Python ${python}, pip, venv, ca-certificates (the role of python:${python}-slim)`,
    },
    {
      name: "builder",
      repository: "slimwheel-testbed/python",
      tag: python,
      include: [...RUNTIME_PACKAGES, ...BUILDER_EXTRA],
      slim: false,
      aptConfig: DOCKER_APT_CONFIG,
      description: `Python ${python} with headers, compilers, VCS tools and buildpack-deps' -dev libraries (the role of python:${python})`,
    },
  ];
}

/** mmdebstrap arguments producing a root filesystem tarball for `spec`. */
export function mmdebstrapArgs(
  spec: ImageSpec,
  suite: string,
  mirror: { archive: string; security?: string },
  out: string,
): string[] {
  const args = [
    "--variant=minbase",
    `--include=${spec.include.join(",")}`,
    // merged /usr without the usrmerge package (which would pull in Perl)
    "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
    '--aptopt=Acquire::Languages "none"',
    '--customize-hook=rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',
    '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log',
  ];
  for (const [name, content] of Object.entries(spec.aptConfig)) {
    if (!/^[\w.-]+$/.test(name)) throw new Error(`bad apt.conf.d file name: ${name}`);
    const b64 = Buffer.from(content).toString("base64");
    args.push(`--customize-hook=echo ${b64} | base64 -d > "$1"/etc/apt/apt.conf.d/${name}`);
  }
  if (spec.slim) {
    args.push(
      "--dpkgopt=path-exclude=/usr/share/man/*",
      "--dpkgopt=path-exclude=/usr/share/doc/*",
      "--dpkgopt=path-include=/usr/share/doc/*/copyright",
      "--dpkgopt=path-exclude=/usr/share/locale/*",
      "--dpkgopt=path-exclude=/usr/share/info/*",
    );
  }
  args.push(suite, out, `deb ${mirror.archive} ${suite} main`);
  if (mirror.security) args.push(`deb ${mirror.security} ${suite}-security main`);
  return args;
}
