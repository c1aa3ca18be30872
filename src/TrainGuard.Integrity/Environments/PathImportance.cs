using TrainGuard.Findings;

namespace TrainGuard.Integrity.Environments;

/// <summary>What kind of file a path is, for ranking findings.</summary>
public enum FileRole
{
    /// <summary>Code on a training-critical path: optimizers, RNG, data loading, distributed, serialization, trainers.</summary>
    CriticalCode,

    /// <summary>Any other code that runs: .py, .pyc, native libraries, scripts.</summary>
    Code,

    /// <summary>Data and configuration read by code.</summary>
    Data,

    /// <summary>Certificates, documentation, metadata, headers, type stubs: nothing that runs.</summary>
    Inert,
}

/// <summary>
/// Ranks a file by what tampering with it could do to training: a changed <c>torch/optim/adamw.py</c> is
/// critical, a changed CA bundle or README is low.
/// </summary>
public static class PathImportance
{
    /// <summary>Path fragments (with '/' separators, matched anywhere in the path) of training-critical code.</summary>
    internal static readonly string[] CriticalFragments =
    [
        "torch/optim/", "torch/random.py", "torch/cuda/random.py", "torch/utils/data/", "torch/nn/parallel/",
        "torch/distributed/", "torch/serialization.py", "torch/amp/", "torch/cuda/amp/", "torch/nn/utils/clip_grad.py",
        "torch/nn/init.py", "torch/autograd/", "torch/_utils.py", "torch/lib/", "torch/_c.", "torch/_c/", "/libtorch", "/libc10",
        "numpy/random/", "transformers/trainer", "transformers/optimization.py", "transformers/training_args.py",
        "accelerate/", "deepspeed/", "apex/optimizers/", "apex/amp/", "lightning/pytorch/", "pytorch_lightning/",
        "bitsandbytes/optim/", "timm/optim/", "torchvision/datasets/", "datasets/",
    ];

    public static FileRole Classify(string path)
    {
        var p = path.Replace('\\', '/').ToLowerInvariant();
        var name = p[(p.LastIndexOf('/') + 1)..];
        var isCode = IsCodeName(name) || p.Contains("/bin/", StringComparison.Ordinal);
        if (isCode)
        {
            foreach (var fragment in CriticalFragments)
            {
                if (p.Contains(fragment, StringComparison.Ordinal) || p.StartsWith(fragment, StringComparison.Ordinal))
                {
                    return FileRole.CriticalCode;
                }
            }

            return FileRole.Code;
        }

        return IsInert(p, name) ? FileRole.Inert : FileRole.Data;
    }

    /// <summary>Severity of a file whose content differs from its record.</summary>
    public static Severity ChangedSeverity(FileRole role) => role switch
    {
        FileRole.CriticalCode => Severity.Critical,
        FileRole.Code => Severity.High,
        FileRole.Data => Severity.Medium,
        _ => Severity.Low,
    };

    /// <summary>Severity of a recorded file that is gone (breaks imports loudly; rarely stealthy).</summary>
    public static Severity MissingSeverity(FileRole role) => role switch
    {
        FileRole.CriticalCode or FileRole.Code => Severity.Medium,
        _ => Severity.Low,
    };

    /// <summary>Severity of a file that no record lists, inside a package's folders.</summary>
    public static Severity UnlistedSeverity(FileRole role) => role switch
    {
        FileRole.CriticalCode => Severity.Critical,
        FileRole.Code => Severity.High,
        FileRole.Data => Severity.Low,
        _ => Severity.Info,
    };

    public static bool IsCodeName(string name) =>
        name.EndsWith(".py", StringComparison.Ordinal) || name.EndsWith(".pyc", StringComparison.Ordinal) || name.EndsWith(".pyo", StringComparison.Ordinal)
        || name.EndsWith(".so", StringComparison.Ordinal) || name.Contains(".so.", StringComparison.Ordinal) || name.EndsWith(".pyd", StringComparison.Ordinal)
        || name.EndsWith(".dylib", StringComparison.Ordinal) || name.EndsWith(".pth", StringComparison.Ordinal) || name.EndsWith(".start", StringComparison.Ordinal)
        || name.EndsWith(".pyx", StringComparison.Ordinal) || name.EndsWith(".sh", StringComparison.Ordinal);

    private static bool IsInert(string p, string name)
    {
        if (p.Contains("/usr/share/doc/", StringComparison.Ordinal) || p.Contains("/usr/share/lintian/", StringComparison.Ordinal) || p.Contains("/usr/share/man/", StringComparison.Ordinal)
            || p.Contains(".dist-info/", StringComparison.Ordinal) || p.Contains(".egg-info/", StringComparison.Ordinal) || p.Contains("/include/", StringComparison.Ordinal))
        {
            return true;
        }

        string[] inertExtensions =
        [
            ".pem", ".crt", ".cer", ".md", ".rst", ".txt", ".html", ".css", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico",
            ".pyi", ".h", ".hpp", ".cuh", ".c", ".cc", ".cpp", ".cu", ".gz", ".typed", ".license", ".pdf",
        ];
        foreach (var extension in inertExtensions)
        {
            if (name.EndsWith(extension, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return name.StartsWith("license", StringComparison.Ordinal) || name.StartsWith("copying", StringComparison.Ordinal) || name.StartsWith("notice", StringComparison.Ordinal)
            || name is "py.typed" or "authors" or "readme";
    }
}
