using System.CommandLine;

namespace TrainGuard.Cli.Options;

/// <summary>
/// The option names every verb shares, each with one meaning (README "Options"): a verb never defines its own
/// <c>--output</c>, <c>--server</c> or <c>--key</c>, it asks for one here.
/// </summary>
public static class CommonOptions
{
    /// <summary>The environment variable <c>--token</c> defaults to (it keeps the token out of the process list).</summary>
    public const string TokenVariable = "TRAINGUARD_TOKEN";

    /// <summary><c>-f, --format</c>: text always, json always, sarif on verbs whose report holds findings.</summary>
    public static Option<string> Format(bool sarif)
    {
        var option = new Option<string>("--format", "-f")
        {
            Description = sarif
                ? "Report format: text (for people), json (for scripts; docs/json-output.md) or sarif (SARIF 2.1.0 for code-scanning tools)."
                : "Report format: text (for people) or json (for scripts; docs/json-output.md).",
            DefaultValueFactory = _ => "text",
        };
        option.AcceptOnlyFromAmong(sarif ? ["text", "json", "sarif"] : ["text", "json"]);
        return option;
    }

    /// <summary><c>-o, --output FILE</c>: where the report goes, on every verb that reports.</summary>
    public static Option<FileInfo?> Output() => new("--output", "-o")
    {
        HelpName = "FILE",
        Description = "Write the report to FILE instead of standard output (a one-line summary still goes to standard error).",
    };

    /// <summary><c>-q, --quiet</c>: only what is not clean.</summary>
    public static Option<bool> Quiet() => new("--quiet", "-q")
    {
        Description = "Text output lists only what is not clean, then the summary line (no effect on json and sarif).",
    };

    public static Option<bool> NoProgress() => new("--no-progress")
    {
        Description = "Never show a progress bar (it is shown only when standard error is a terminal).",
    };

    /// <summary><c>--key FILE</c>: the signing key pair, the private half to sign, the public half to verify.</summary>
    public static Option<FileInfo> PrivateKey() => new("--key")
    {
        HelpName = "FILE",
        Description = "Private signing key (PEM, from 'trainguard keys new').",
        Required = true,
    };

    /// <inheritdoc cref="PrivateKey"/>
    public static Option<FileInfo?> PublicKey(bool required, string? description = null) => new("--key")
    {
        HelpName = "FILE",
        Description = description ?? "Public key (PEM, from 'trainguard keys new') that must have made the signature.",
        Required = required,
    };

    /// <summary><c>--log-key KEY|FILE</c>: the ledger's verifier key, from <c>trainguard server key show</c>.</summary>
    public static Option<string?> LogKey(bool required, string purpose) => new("--log-key")
    {
        HelpName = "KEY|FILE",
        Description = $"The ledger's verifier key (name+keyid+base64, as 'trainguard server key show' prints it), or a file holding it. {purpose}",
        Required = required,
    };

    /// <summary><c>--state-dir DIR</c>: where a client keeps the signed tree heads it has seen (one file per log).</summary>
    public static Option<string?> StateDirectory() => new("--state-dir")
    {
        HelpName = "DIR",
        Description = "Where the signed tree heads seen are kept, one file per log (origin and key); every new head must be consistent with the kept one, and a rollback or split view is reported with both heads. Default $XDG_STATE_HOME/trainguard or ~/.local/state/trainguard.",
    };

    /// <summary>The folder <c>--state-dir</c> names, or the default under <c>$XDG_STATE_HOME</c> (else <c>~/.local/state</c>).</summary>
    public static string ResolveStateDirectory(string? given)
    {
        if (!string.IsNullOrEmpty(given))
        {
            return Path.GetFullPath(given);
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        var root = !string.IsNullOrEmpty(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state");
        return Path.Combine(root, "trainguard");
    }

    /// <summary><c>--signature FILE</c>: a signature file, written by <c>sign</c>, read by <c>verify</c>.</summary>
    public static Option<FileInfo?> Signature(string description) => new("--signature")
    {
        HelpName = "FILE",
        Description = description,
    };

    /// <summary><c>-c, --config FILE</c>: the verb's YAML configuration.</summary>
    public static Option<FileInfo?> Config(string description) => new("--config", "-c")
    {
        HelpName = "FILE",
        Description = description,
    };

    /// <summary><c>--events FILE</c>: append one ECS event line per run (docs/events.md).</summary>
    public static Option<FileInfo?> Events(string action) => new("--events")
    {
        HelpName = "FILE",
        Description = $"Append a '{action}' event (one JSON line, docs/events.md) to FILE.",
    };

    /// <summary><c>--data-dir DIR</c>: where the server keeps its log key and default database.</summary>
    public static Option<string?> DataDirectory() => new("--data-dir")
    {
        HelpName = "DIR",
        Description = "Data directory (log signing key, default database). Default $TRAINGUARD_DATA_DIR, else $XDG_DATA_HOME/trainguard or ~/.local/share/trainguard.",
    };

    /// <summary><c>--db SPEC</c>: the server's store.</summary>
    public static Option<string?> Database() => new("--db")
    {
        HelpName = "SPEC",
        Description = "Store: sqlite:PATH (default: trainguard.db in the data directory) or a PostgreSQL connection string (Host=...;Database=...;Username=...).",
    };

    /// <summary><c>--ignore-paths PATH...</c>, as model_signing has it.</summary>
    public static Option<string[]> IgnorePaths(string description) => new("--ignore-paths")
    {
        HelpName = "PATH",
        Description = description,
        AllowMultipleArgumentsPerToken = true,
    };

    /// <summary>Adds a validator that rejects values below <paramref name="minimum"/> with <paramref name="message"/>.</summary>
    public static Option<T> AtLeast<T>(this Option<T> option, T minimum, string message)
        where T : IComparable<T>
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<T>().CompareTo(minimum) < 0)
            {
                result.AddError(message);
            }
        });
        return option;
    }

    /// <summary>Adds every option to the command, in order.</summary>
    public static void AddOptions(this Command command, params Option[] options)
    {
        foreach (var option in options)
        {
            command.Options.Add(option);
        }
    }
}
