namespace TrainGuard.Detections;

/// <summary>
/// How rules are loaded and how much state the engine may keep. The placeholders and extra fields come from the
/// server's configuration; every limit bounds what a rule file or an event stream can make the engine spend.
/// </summary>
public sealed record DetectionOptions
{
    /// <summary>
    /// The placeholders TrainGuard knows (<c>field|expand: '%PackageManagers%'</c>). Values are Sigma values, so they
    /// may use <c>*</c> and <c>?</c>.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> DefaultPlaceholders { get; } =
        new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal)
        {
            // Programs that install, upgrade or remove software (their writes to system paths are expected).
            ["PackageManagers"] =
            [
                "/usr/bin/apt", "/usr/bin/apt-get", "/usr/bin/aptitude", "/usr/bin/dpkg", "/usr/bin/dpkg-*",
                "/usr/lib/apt/methods/*", "/usr/bin/unattended-upgrade", "/usr/bin/dnf", "/usr/bin/yum",
                "/usr/bin/rpm", "/usr/bin/microdnf", "/usr/bin/zypper", "/usr/bin/snap", "/usr/lib/snapd/*",
                "*/bin/pip", "*/bin/pip3", "*/bin/pip3.*", "*/bin/conda", "*/bin/mamba", "*/bin/micromamba", "*/bin/uv",
            ],

            // Daemons expected to listen on sockets or run as services.
            ["ServiceBinaries"] =
            [
                "/usr/sbin/sshd", "/usr/lib/systemd/systemd*", "/lib/systemd/systemd*", "/usr/sbin/chronyd",
                "/usr/sbin/rsyslogd", "/usr/sbin/avahi-daemon", "/usr/sbin/cupsd", "/usr/sbin/named",
                "/usr/bin/dockerd", "/usr/bin/containerd", "/usr/bin/containerd-shim*", "/usr/bin/kubelet",
                "/usr/sbin/slurmd", "/usr/sbin/slurmctld", "/usr/sbin/slurmdbd", "/usr/sbin/munged",
                "/usr/bin/nvidia-persistenced", "/usr/bin/nv-hostengine", "/usr/bin/trainguard", "/usr/local/bin/trainguard",
            ],

            // Schedulers and their helpers, which start, signal and stop other users' jobs.
            ["SchedulerBinaries"] =
            [
                "/usr/sbin/slurmd", "/usr/sbin/slurmstepd", "/usr/bin/slurmstepd", "/usr/sbin/slurmctld",
                "/usr/sbin/cron", "/usr/sbin/crond", "/usr/sbin/atd", "/usr/lib/systemd/systemd", "/lib/systemd/systemd",
                "/usr/bin/kubelet", "/usr/bin/containerd-shim*",
            ],
        };

    /// <summary>The defaults (declared after <see cref="DefaultPlaceholders"/>, which they use).</summary>
    public static DetectionOptions Default { get; } = new();

    /// <summary>Placeholder values by name (case-sensitive, without the <c>%</c>); an unknown placeholder refuses its rule.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Placeholders { get; init; } = DefaultPlaceholders;

    /// <summary>Fields a site's events carry beyond <c>docs/events.md</c> (a <c>prefix.*</c> entry admits every field below).</summary>
    public IReadOnlyList<string> ExtraFields { get; init; } = [];

    /// <summary>Longest rule file read, in bytes.</summary>
    public int MaxRuleFileBytes { get; init; } = 1024 * 1024;

    /// <summary>Most YAML nodes in one rule file.</summary>
    public int MaxYamlNodes { get; init; } = 100_000;

    /// <summary>Most values one field test may expand to (placeholders, lists).</summary>
    public int MaxValuesPerField { get; init; } = 10_000;

    /// <summary>Longest regular expression.</summary>
    public int MaxRegexLength { get; init; } = 4096;

    /// <summary>
    /// Time one regular-expression test may take; a timeout counts as no match and is counted. Infinite by default:
    /// expressions run with <see cref="System.Text.RegularExpressions.RegexOptions.NonBacktracking"/> (time linear in
    /// the text, which <see cref="MaxEventBytes"/> bounds), and a wall-clock limit would make a replay differ from
    /// the live run on a loaded machine.
    /// </summary>
    public TimeSpan RegexTimeout { get; init; } = System.Text.RegularExpressions.Regex.InfiniteMatchTimeout;

    /// <summary>Longest correlation <c>timespan</c>.</summary>
    public TimeSpan MaxTimespan { get; init; } = TimeSpan.FromDays(31);

    /// <summary>Most events (or distinct values) one correlation group keeps; a condition that needs more is refused.</summary>
    public int MaxWindowEntries { get; init; } = 10_000;

    /// <summary>Most group keys one correlation keeps; beyond it the least recently seen groups are evicted (and counted).</summary>
    public int MaxGroupsPerCorrelation { get; init; } = 1_000_000;

    /// <summary>Largest event evaluated, in bytes of JSON.</summary>
    public int MaxEventBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>Most event references a correlation hit lists (the newest are kept).</summary>
    public int MaxHitEventRefs { get; init; } = 100;
}
