/** What slimwheel reads of an image: its layers' sizes and contents, its config. */

export interface LayerSummary {
  readonly digest: string;
  readonly mediaType: string;
  /** Bytes as stored in a registry (gzip). Computed by compressing when the source holds an uncompressed tar. */
  readonly compressedSize: number;
  /** Bytes of the uncompressed tar. */
  readonly uncompressedSize: number;
  /** sha256 of the uncompressed tar (the config's diff_id). */
  readonly diffId: string;
  readonly files: number;
  /** Bytes of compilers, headers and static libraries in the layer. */
  readonly toolchainBytes: number;
  /** A few of those paths, for reports. */
  readonly toolchainSamples: readonly string[];
  /** Paths deleted by this layer (whiteouts): their bytes stay in the earlier layer. */
  readonly whiteouts: readonly string[];
  /** The instruction that made the layer (from the config history), when known. */
  readonly createdBy?: string;
}

export interface ImageSummary {
  /** Manifest digest (OCI layout) or config digest (docker archive). */
  readonly digest: string;
  readonly configDigest: string;
  readonly layers: readonly LayerSummary[];
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly toolchainBytes: number;
  readonly config: {
    readonly user?: string;
    readonly env: readonly string[];
    readonly cmd?: readonly string[];
    readonly entrypoint?: readonly string[];
    readonly labels: Readonly<Record<string, string>>;
    readonly architecture?: string;
    readonly os?: string;
  };
}

/** An OCI content descriptor (image-spec `descriptor.md`): what a manifest or index points at. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: { readonly architecture: string; readonly os: string; readonly variant?: string };
}

/** The media types slimwheel reads and writes (image-spec `media-types.md`, Docker's v2 schema 2). */
export const MediaType = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;
