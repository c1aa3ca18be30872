namespace TrainGuard.Formats.Detection;

/// <summary>What a file is, decided from its bytes alone (never its name).</summary>
public enum DetectedFormat
{
    /// <summary>Zero-length input.</summary>
    Empty,

    /// <summary>None of the formats below.</summary>
    Unknown,

    /// <summary>A pickle stream (protocol 0-5), e.g. a joblib dump or a bare <c>pickle.dump</c>.</summary>
    Pickle,

    /// <summary>A legacy (pre-1.6, non-zip) <c>torch.save</c> file: a sequence of pickles starting with the magic number.</summary>
    TorchLegacy,

    /// <summary>A zip archive: torch checkpoints, <c>.npz</c>, and plain zips (also with prefix data).</summary>
    Zip,

    /// <summary>A tar archive (POSIX ustar, GNU, or v7): legacy torch tar checkpoints.</summary>
    Tar,

    /// <summary>A numpy <c>.npy</c> array.</summary>
    Npy,

    /// <summary>A safetensors file.</summary>
    Safetensors,

    /// <summary>A 7z archive.</summary>
    SevenZip,

    /// <summary>A gzip stream. Compressed containers are not unpacked: report as an error, not as skipped.</summary>
    Gzip,

    /// <summary>A bzip2 stream (not unpacked).</summary>
    Bzip2,

    /// <summary>An xz stream (not unpacked).</summary>
    Xz,

    /// <summary>A zstd frame (not unpacked).</summary>
    Zstd,
}
