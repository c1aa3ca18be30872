using System.Text.Json.Nodes;
using TrainGuard.Ledger.Verification;

namespace TrainGuard.Cli.Output;

/// <summary>
/// The two signed tree heads that prove a log misbehaved (a rollback or a split view), as a report shows them: JSON
/// <c>evidence: {change, problem, kept_tree_head, new_tree_head, kept_size, new_size, file}</c>, and both notes in
/// the text, ready to be kept and shown to anyone holding the log key.
/// </summary>
internal static class TreeHeadEvidence
{
    /// <summary>The file the two notes are written to beside the kept head: <c>&lt;state file&gt;.evidence-&lt;unix time&gt;.txt</c>.</summary>
    public static string? Save(TreeHeadAdvance evidence, string? stateFile, DateTimeOffset at)
    {
        if (stateFile is null || !evidence.IsEvidence)
        {
            return null;
        }

        var file = $"{stateFile}.evidence-{at.ToUnixTimeSeconds()}.txt";
        File.WriteAllText(file, $"# {evidence.Problem}\n# kept tree head:\n{evidence.KeptNote}\n# new tree head:\n{evidence.NewNote}");
        return file;
    }

    public static JsonObject Json(TreeHeadAdvance evidence, string? file) => new()
    {
        ["change"] = Change(evidence.Change),
        ["problem"] = evidence.Problem,
        ["kept_size"] = evidence.Kept?.Size,
        ["new_size"] = evidence.New?.Size,
        ["kept_tree_head"] = evidence.KeptNote,
        ["new_tree_head"] = evidence.NewNote,
        ["file"] = file,
    };

    public static void WriteText(TreeHeadAdvance evidence, string? file, TextWriter text)
    {
        text.WriteLine($"EVIDENCE ({Change(evidence.Change)}): {evidence.Problem}");
        text.WriteLine("  kept signed tree head:");
        WriteIndented(evidence.KeptNote ?? string.Empty, text);
        text.WriteLine("  new signed tree head:");
        WriteIndented(evidence.NewNote, text);
        if (file is not null)
        {
            text.WriteLine($"  both kept in {file}");
        }
    }

    /// <summary>The wire name of a change: <c>first-use</c>, <c>unchanged</c>, <c>grew</c>, <c>untrusted</c>, <c>rolled-back</c>, <c>split-view</c>.</summary>
    public static string Change(TreeHeadChange change) => change switch
    {
        TreeHeadChange.FirstUse => "first-use",
        TreeHeadChange.Unchanged => "unchanged",
        TreeHeadChange.Grew => "grew",
        TreeHeadChange.Untrusted => "untrusted",
        TreeHeadChange.RolledBack => "rolled-back",
        _ => "split-view",
    };

    private static void WriteIndented(string note, TextWriter text)
    {
        foreach (var line in note.TrimEnd('\n').Split('\n'))
        {
            text.WriteLine($"    {Findings.TextSanitizer.Escape(line, 300)}");
        }
    }
}
