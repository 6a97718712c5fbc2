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
