using TrainGuard.Findings;
using TrainGuard.Review.Parsing;

namespace TrainGuard.Review;

/// <summary>What <c>trainguard review</c> reviews and against what.</summary>
public sealed record ReviewOptions
{
    /// <summary>The repository (a work tree or a bare repository).</summary>
    public required string Repository { get; init; }

    /// <summary><c>BASE..HEAD</c>: the commits reachable from HEAD and not from BASE, and the change from BASE's tree to HEAD's.</summary>
    public required string Range { get; init; }

    /// <summary>The two-person policy (YAML), or null for the default policy.</summary>
    public string? PolicyFile { get; init; }

    /// <summary>The allowed-signers file (SSH keys of the people who may sign and approve); null: signatures and approvals are not checked.</summary>
    public string? AllowedSigners { get; init; }

    /// <summary>A pinned OpenPGP keyring for GPG-signed commits.</summary>
    public string? GpgKeyring { get; init; }

    /// <summary>Findings below this severity are reported but change neither the verdict nor the exit code.</summary>
    public Severity? FailOn { get; init; }

    public ParserChoice Parser { get; init; } = ParserChoice.Auto;

    /// <summary>More changed files than this is an error (the review would not be read).</summary>
    public int MaxFiles { get; init; } = 20_000;

    /// <summary>More commits than this is an error.</summary>
    public int MaxCommits { get; init; } = 100_000;
}
