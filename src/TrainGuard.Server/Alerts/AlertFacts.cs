using System.Globalization;
using TrainGuard.Findings;

namespace TrainGuard.Server.Alerts;

/// <summary>
/// What an alert's contributing events did and touched, gathered as they fold in: the reason sentence, the risk score
/// and the timeline's victims are made from it. Every list is kept sorted (ordinal) and bounded; every string is
/// escaped (control characters) and shortened before it is kept.
/// </summary>
public sealed class AlertFacts
{
    /// <summary>Most values one list keeps (its count goes on in <see cref="Overflow"/>).</summary>
    public const int MaxValues = 200;

    /// <summary>Longest value kept, in characters (names, paths, comments).</summary>
    public const int MaxValueLength = 200;

    public List<string> Actions { get; init; } = [];

    public List<string> Signals { get; init; } = [];

    /// <summary>Signalled processes as <c>PID NAME (USER)</c>.</summary>
    public List<string> Processes { get; init; } = [];

    /// <summary>Other accounts whose processes, files or sessions the events touched.</summary>
    public List<string> Victims { get; init; } = [];

    public List<string> Files { get; init; } = [];

    /// <summary>Accounts created or changed, as <c>NAME (uid N)</c>.</summary>
    public List<string> Accounts { get; init; } = [];

    /// <summary>SSH key fingerprints added or logged in with.</summary>
    public List<string> Keys { get; init; } = [];

    public List<string> Executables { get; init; } = [];

    /// <summary>Scan and verification verdicts, and finding rule ids.</summary>
    public List<string> Verdicts { get; init; } = [];

    /// <summary>Listening or remote addresses.</summary>
    public List<string> Addresses { get; init; } = [];

    /// <summary>The accounts planted-key sessions were logged in as.</summary>
    public List<string> SessionUsers { get; init; } = [];

    /// <summary>Values dropped because a list was full, per list name.</summary>
    public Dictionary<string, long> Overflow { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Some contributing event ran with uid 0.</summary>
    public bool AsRoot { get; set; }

    /// <summary>Adds what one contributing event did.</summary>
    public void Add(EventFacts e)
    {
        ArgumentNullException.ThrowIfNull(e);
        Put(Actions, nameof(Actions), e.Action);
        AsRoot |= e.AsRoot;
        Put(Executables, nameof(Executables), e.Executable);
        var actor = e.Actor.Name;
        if (e.SignalName is { } signal)
        {
            Put(Signals, nameof(Signals), signal);
        }

        if (e.TargetPid is { } pid)
        {
            var owner = e.TargetUserName ?? e.TargetLoginUid;
            Put(Processes, nameof(Processes), string.Create(CultureInfo.InvariantCulture, $"{pid} {Clean(e.TargetProcessName) ?? "?"} ({Clean(owner) ?? "?"})"));
            if (owner is not null && !IsActor(e, e.TargetUserName, e.TargetLoginUid))
            {
                Put(Victims, nameof(Victims), owner);
            }
        }

        var path = e.FileTargetPath ?? e.FilePath;
        if (path is not null && e.Action is not ("user-login" or "user-logout"))
        {
            Put(Files, nameof(Files), path);
            if (e.FileOwner is { } fileOwner && !IsActor(e, fileOwner, e.FileUid) && e.FileUid != "0")
            {
                Put(Victims, nameof(Victims), fileOwner);
            }
        }

        if (e.Action is "user-created" or "user-changed" or "user-deleted" && e.TargetAccountName is { } account)
        {
            Put(Accounts, nameof(Accounts), e.TargetAccountId is { } uid ? $"{Clean(account)} (uid {Clean(uid)})" : account);
        }

        if (e.KeyFingerprint is { } key)
        {
            Put(Keys, nameof(Keys), key);
        }

        if (e.Action == "ssh-key-added" && e.TargetAccountName is { } keyOwner && keyOwner != actor)
        {
            Put(Victims, nameof(Victims), keyOwner);
        }

        if (e.Verdict is { } verdict && verdict != "clean")
        {
            Put(Verdicts, nameof(Verdicts), verdict);
        }

        if (e.FindingRule is { } rule && e.Verdict is not null and not "clean")
        {
            Put(Verdicts, nameof(Verdicts), rule);
        }

        if (e.Action == "socket-listen" && e.SourceAddress is { } address)
        {
            Put(Addresses, nameof(Addresses), address);
        }

        if (e.SessionUser is { } sessionUser)
        {
            Put(SessionUsers, nameof(SessionUsers), sessionUser);
            if (sessionUser != actor)
            {
                Put(Victims, nameof(Victims), sessionUser);
            }
        }
    }

    /// <summary>How many values a list saw, counting those it could not keep.</summary>
    public long CountOf(List<string> list, string name) => list.Count + Overflow.GetValueOrDefault(name);

    private static bool IsActor(EventFacts e, string? name, string? loginUid) =>
        (loginUid is not null && e.LoginUid is not null && loginUid == e.LoginUid)
        || (name is not null && (name == e.Actor.Name || (e.LoginUid is null && name == e.UserName)));

    private void Put(List<string> list, string name, string? value)
    {
        if (Clean(value) is not { Length: > 0 } clean)
        {
            return;
        }

        var at = list.BinarySearch(clean, StringComparer.Ordinal);
        if (at >= 0)
        {
            return;
        }

        if (list.Count >= MaxValues)
        {
            Overflow[name] = Overflow.GetValueOrDefault(name) + 1;
            return;
        }

        list.Insert(~at, clean);
    }

    private static string? Clean(string? value) => value is null ? null : TextSanitizer.Escape(value, MaxValueLength);
}
