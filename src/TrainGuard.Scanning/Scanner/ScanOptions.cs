using TrainGuard.Formats.Torch;
using TrainGuard.Formats.Zip;
using TrainGuard.Pickle;
using TrainGuard.Scanning.Policy;

namespace TrainGuard.Scanning.Scanner;

/// <summary>Everything that shapes one scan: what to follow, how hard to work, and the bounds on hostile input.</summary>
public sealed record ScanOptions
{
    public PolicyOptions Policy { get; init; } = new();

    public PickleLimits Pickle { get; init; } = PickleLimits.Default;

    public ZipLimits Zip { get; init; } = new();

    /// <summary>Follow symbolic links to files and folders (off: a checkpoint folder can link anywhere).</summary>
    public bool FollowSymlinks { get; init; }

    /// <summary>Files scanned at once.</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Dimensions of one tensor in a legacy torch tar's <c>tensors</c> member.</summary>
    public int MaxTensorRank { get; init; } = LegacyTorchLayout.DefaultMaxRank;

    /// <summary>Archives inside archives (zip in zip...).</summary>
    public int MaxArchiveDepth { get; init; } = 4;

    /// <summary>Compute each file's SHA-256 (reads tensor bytes too: off by default).</summary>
    public bool Hash { get; init; }

    /// <summary>
    /// Memory-map whole-file pickles (fast, and already-read pages leave the resident set). A mapped file that another
    /// process truncates during the scan makes the kernel kill this process (SIGBUS), so long-running services that scan
    /// files other accounts can write (the agent's checkpoint watcher) turn this off: such files are then read into
    /// memory, and a file that shrinks while it is read is an error, never a crash.
    /// </summary>
    public bool MapFiles { get; init; } = true;

    /// <summary>Wall-clock bound per file.</summary>
    public TimeSpan PerFileTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Files with these extensions are expected to be model files: unrecognised content is an error, not "skipped".</summary>
    public IReadOnlySet<string> ModelExtensions { get; init; } = DefaultModelExtensions;

    public static IReadOnlySet<string> DefaultModelExtensions { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        ".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle", ".joblib", ".npy", ".npz", ".safetensors",
        ".model", ".sav", ".dill", ".tar", ".zip", ".7z", ".mar", ".pt2", ".gz", ".xz", ".bz2", ".zst",
    };
}

/// <summary>Progress of a running scan, for a progress bar.</summary>
public readonly record struct ScanProgress(int FilesDone, int FilesTotal, string? Current);
