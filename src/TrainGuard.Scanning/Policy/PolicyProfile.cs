using TrainGuard.Parsing;

namespace TrainGuard.Scanning.Policy;

/// <summary>Which allowlist a pickle is judged against. <see cref="Default"/> is the union of all the others.</summary>
public enum PolicyProfile
{
    /// <summary>Union of every profile below: what a Hugging Face Trainer checkpoint folder may contain.</summary>
    Default = 0,

    /// <summary>Exactly the globals <c>torch.load(weights_only=True)</c> accepts in current PyTorch.</summary>
    TorchWeights,

    /// <summary>numpy arrays, dtypes, scalars and random-generator state.</summary>
    Numpy,

    /// <summary><c>training_args.bin</c>: <c>TrainingArguments</c>, its enums and accelerate's state dataclasses.</summary>
    HfTrainer,

    /// <summary>Plain Python data: containers, sets, dates, decimals.</summary>
    Plain,
}

/// <summary>The wire names of <see cref="PolicyProfile"/> (<c>--profile</c>, config files, reports).</summary>
public static class ProfileNames
{
    public const string Default = "default";
    public const string TorchWeights = "torch-weights";
    public const string Numpy = "numpy";
    public const string HfTrainer = "hf-trainer";
    public const string Plain = "plain";

    /// <summary>Every accepted name, in the order help texts list them.</summary>
    public static IReadOnlyList<string> All { get; } = [Default, TorchWeights, Numpy, HfTrainer, Plain];

    /// <summary>The concrete profiles <see cref="PolicyProfile.Default"/> is made of.</summary>
    public static IReadOnlyList<PolicyProfile> Concrete { get; } =
        [PolicyProfile.TorchWeights, PolicyProfile.Numpy, PolicyProfile.HfTrainer, PolicyProfile.Plain];

    public static string ToName(this PolicyProfile profile) => profile switch
    {
        PolicyProfile.Default => Default,
        PolicyProfile.TorchWeights => TorchWeights,
        PolicyProfile.Numpy => Numpy,
        PolicyProfile.HfTrainer => HfTrainer,
        PolicyProfile.Plain => Plain,
        _ => throw new ArgumentOutOfRangeException(nameof(profile), profile, "unknown profile"),
    };

    public static bool TryParse(string? name, out PolicyProfile profile)
    {
        switch (name?.Trim().ToLowerInvariant())
        {
            case Default: profile = PolicyProfile.Default; return true;
            case TorchWeights: profile = PolicyProfile.TorchWeights; return true;
            case Numpy: profile = PolicyProfile.Numpy; return true;
            case HfTrainer: profile = PolicyProfile.HfTrainer; return true;
            case Plain: profile = PolicyProfile.Plain; return true;
            default: profile = PolicyProfile.Default; return false;
        }
    }

    /// <summary>Parses a profile name; an unknown name is a <see cref="MalformedInputException"/> (<see cref="InputErrorKind.Config"/>) listing the valid ones.</summary>
    public static PolicyProfile Parse(string name) =>
        TryParse(name, out var profile)
            ? profile
            : throw MalformedInputException.CreateAt(InputErrorKind.Config, $"unknown profile '{Findings.TextSanitizer.Escape(name, 80)}'; expected one of: {string.Join(", ", All)}", "--profile", line: null);
}
