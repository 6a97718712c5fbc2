/**
 * What each strategy is, in words: its id, a title, and one paragraph on what it does and its
 * trade-off (shown by --help, `dockerfile --help` and the docs). The code of each is in its own file.
 */
export const CATALOG = {
  full: {
    id: "full",
    title: "full image, one stage",
    summary:
      "One stage on the full Python image (Debian with compilers, headers and many -dev libraries), dependencies installed in their own layer before the app code. Everything builds, nothing is missing at run time, but roughly a gigabyte of build tools ships to production.",
  },
  slim: {
    id: "slim",
    title: "slim image, one stage",
    summary:
      "One stage on the slim Python image: the dependency list is copied and installed in its own layer, then the app. Small and simple, but only works when every dependency has a binary wheel and needs no system library: nothing can be compiled, and no runtime library is installed. pip runs with --only-binary so a missing wheel stops the build with a clear message instead of a compiler error.",
  },
  "slim-apt": {
    id: "slim-apt",
    title: "slim + apt-get, removal in a later layer",
    summary:
      "The common habit: the slim image, then `apt-get install` of compilers and -dev packages, the build, and a later RUN that purges them. It builds anything, but layers are append-only: the purge adds a layer and removes nothing from the earlier one, so the compilers still ship (the image is no smaller than without the purge). Runtime libraries are installed explicitly so the purge keeps them.",
  },
  "single-layer": {
    id: "single-layer",
    title: "install, build and purge in one RUN",
    summary:
      "The slim image with build tools installed, used and purged in a single RUN, so they never reach a layer: small. But the app is copied before that RUN, so every code change reinstalls every dependency from scratch: the build cache is destroyed.",
  },
  wheels: {
    id: "wheels",
    title: "four stages: dep-builder, base, app-builder, final",
    summary:
      "Four stages: dep-builder (full image) runs `pip wheel` for every dependency; base (slim) copies the wheels in and installs them with --no-index; app-builder (full) builds the app's wheel; final is base plus the app wheel. No compilers ship, but the wheels are stored twice (the COPY layer and the installed files), and wrapper libraries that call executables still need those programs added.",
  },
  venv: {
    id: "venv",
    title: "virtualenv built in a builder, copied into slim",
    summary:
      "Two stages: a virtualenv at a fixed path (/opt/venv) is built in the builder and copied whole into the slim image, activated through PATH (a .bashrc only works for interactive shells). The interpreter path is the same in both images, so the venv's links hold. The venv carries pip and setuptools along, and runtime libraries must still be added.",
  },
  alpine: {
    id: "alpine",
    title: "Alpine (musl) builder and runtime",
    summary:
      "A builder on python:X-alpine with apk build packages (build-base and the -dev packages) runs `pip wheel`; the final Alpine image gets only the runtime libraries and installs the wheels with --no-index. Small, but Alpine lacks prebuilt wheels for many projects (everything compiles, slowly), and musl differs from glibc: wheels built on a Debian (glibc) builder must never go into it, so both stages are Alpine.",
  },
  slimwheel: {
    id: "slimwheel",
    title: "slimwheel: wheels built apart, installed through bind mounts",
    summary:
      "slimwheel's own (the default). Dependency wheels are built in the full builder image, apart from the app, so a code change rebuilds only the app layer; they are installed in the slim image through `RUN --mount=type=bind,from=…`, so no wheel is stored twice and no pip cache lands in a layer. The final image gets only the runtime system libraries the dependencies need (no compilers, no headers), runs as a non-root user, and its layers go base → system libraries → dependencies → app, with OCI labels. The package index is only ever seen by the builder.",
  },
} as const satisfies Record<
  string,
  { readonly id: string; readonly title: string; readonly summary: string }
>;
