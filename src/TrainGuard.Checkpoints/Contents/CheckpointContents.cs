using System.Text.Json.Nodes;
using TrainGuard.Checkpoints.Rng;
using TrainGuard.Findings;
using TrainGuard.Scanning.Scanner;

namespace TrainGuard.Checkpoints.Contents;

/// <summary>One tensor of a checkpoint: which file, its dotted name, dtype, shape, size and storage.</summary>
public sealed record TensorInfo
{
    public required string File { get; init; }

    /// <summary>Dotted path in the file's object tree (<c>encoder.weight</c>, <c>state.0.exp_avg</c>).</summary>
    public required string Name { get; init; }

    public required string Dtype { get; init; }

    public required IReadOnlyList<long> Shape { get; init; }

    /// <summary>Bytes of the tensor's own elements.</summary>
    public required long Bytes { get; init; }

    /// <summary>Storage key (torch) or <c>data_offsets</c> (safetensors, as <c>begin-end</c>).</summary>
    public required string Storage { get; init; }

    public long StorageOffset { get; init; }

    public bool Contiguous { get; init; } = true;

    /// <summary>Hex SHA-256 of the contiguous little-endian element bytes (only when hashing was asked for).</summary>
    public string? Sha256 { get; init; }

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>What one file of a checkpoint is and how it was read.</summary>
public sealed record CheckpointFileInfo
{
    /// <summary>The file name inside the folder (or the file's name for a single-file checkpoint).</summary>
    public required string Name { get; init; }

    public required string FullPath { get; init; }

    public long Size { get; init; }

    /// <summary>Detected format: <c>torch-zip</c>, <c>torch-legacy</c>, <c>torch-tar</c>, <c>pickle</c>, <c>safetensors</c>, <c>json</c>, <c>other</c>, <c>folder</c>.</summary>
    public required string Format { get; init; }

    /// <summary>What was found in it: <c>model</c>, <c>optimizer</c>, <c>scheduler</c>, <c>rng</c>, <c>trainer-state</c>, <c>object</c>, <c>config</c>, <c>other</c> (several for a combined checkpoint).</summary>
    public IReadOnlyList<string> Roles { get; init; } = [];

    /// <summary>Whether its contents were read (false: refused by the scanner, unreadable, or not a format read here).</summary>
    public bool Interpreted { get; init; }

    /// <summary>The scanner's verdict on the file, when it was scanned.</summary>
    public Verdict? ScanVerdict { get; init; }

    /// <summary>Why it was not read, when it was not.</summary>
    public string? Problem { get; init; }

    /// <summary>For files holding something other than tensors and training state (<c>scaler.pt</c>, <c>training_args.bin</c>): a bounded rendering.</summary>
    public JsonNode? Summary { get; init; }
}

/// <summary>
/// What a checkpoint (one file, or a Hugging Face <c>checkpoint-N/</c> folder) contains, read without
/// running anything: tensors, optimizer, scheduler, RNG and trainer state, and the problems met on the way.
/// </summary>
public sealed record CheckpointContents
{
    public required string Path { get; init; }

    public required bool IsFolder { get; init; }

    /// <summary>The <c>N</c> of a <c>checkpoint-N</c> folder.</summary>
    public long? FolderStep { get; init; }

    public required IReadOnlyList<CheckpointFileInfo> Files { get; init; }

    public required IReadOnlyList<TensorInfo> Tensors { get; init; }

    public required IReadOnlyList<OptimizerContents> Optimizers { get; init; }

    public required IReadOnlyList<SchedulerContents> Schedulers { get; init; }

    public required IReadOnlyList<RngFileContents> Rng { get; init; }

    public TrainerState? TrainerState { get; init; }

    /// <summary>Problems as findings: unreadable files (TG-CKP-032), files the scanner refused (TG-CKP-033) and the scanner's own findings on them.</summary>
    public required IReadOnlyList<Finding> Problems { get; init; }

    /// <summary>The scan of every file (refused or not), as the scanner reported it.</summary>
    public IReadOnlyList<AnalyzedItem> Scans { get; init; } = [];

    /// <summary>The twist bound used when tracing RNG states back to their seeds.</summary>
    public long MaxRngTwists { get; init; } = SeedFinder.DefaultMaxTwists;

    /// <summary>Files named <c>rng_state_&lt;rank&gt;.pth</c> (or one <c>rng_state.pth</c>): the world size the checkpoint reveals.</summary>
    public int? RevealedWorldSize
    {
        get
        {
            var ranked = Files.Count(f => RankOf(f.Name) is not null);
            if (ranked > 0)
            {
                return ranked;
            }

            return Files.Any(f => f.Name == "rng_state.pth") ? 1 : null;
        }
    }

    /// <summary>The rank in <c>rng_state_&lt;rank&gt;.pth</c>, or null.</summary>
    public static int? RankOf(string name)
    {
        const string Prefix = "rng_state_";
        const string Suffix = ".pth";
        if (!name.StartsWith(Prefix, StringComparison.Ordinal) || !name.EndsWith(Suffix, StringComparison.Ordinal))
        {
            return null;
        }

        var digits = name[Prefix.Length..^Suffix.Length];
        return digits.Length is > 0 and <= 7 && digits.All(char.IsAsciiDigit) ? int.Parse(digits, System.Globalization.CultureInfo.InvariantCulture) : null;
    }
}

/// <summary>How a checkpoint is read.</summary>
public sealed record CheckpointReadOptions
{
    public static CheckpointReadOptions Default { get; } = new();

    /// <summary>Run the artifact scanner on every file first and refuse to interpret flagged ones (on by default; see docs/ckpt.md).</summary>
    public bool ScanFirst { get; init; } = true;

    public ScanOptions Scan { get; init; } = new() { Parallelism = 1 };

    public Torch.TorchReadOptions Torch { get; init; } = Checkpoints.Torch.TorchReadOptions.Default;

    /// <summary>Twists undone at most when tracing a generator state to its seed.</summary>
    public long MaxRngTwists { get; init; } = SeedFinder.DefaultMaxTwists;

    /// <summary>Compute each tensor's SHA-256 (reads all tensor bytes; for diff).</summary>
    public bool HashTensors { get; init; }

    /// <summary>Files read from one folder.</summary>
    public int MaxFiles { get; init; } = 10_000;
}
