using System.Globalization;
using System.Text;

namespace TrainGuard.Review.Signing;

/// <summary>
/// One approval as written into the git note of a commit (<c>refs/notes/trainguard-review</c>): a statement and its SSH
/// signature in TrainGuard's namespace (<see cref="SshSignatures.ApprovalNamespace"/>). The statement is what is signed:
/// <code>
/// trainguard review approval v1
/// commit &lt;sha of the approved commit&gt;
/// base &lt;sha&gt;            (optional: the approval covers every commit of base..commit)
/// approver &lt;principal the approver claims&gt;
/// date &lt;RFC 3339 UTC&gt;
/// </code>
/// The approver counted is the principal the signature verifies for, never the claimed one. A note holds one or more
/// approvals one after another.
/// </summary>
public sealed record ApprovalNote(string Commit, string? Base, string ClaimedApprover, string Date, string Statement, string Signature)
{
    public const string Header = "trainguard review approval v1";

    /// <summary>The notes reference approvals are kept in.</summary>
    public const string NotesRef = "refs/notes/trainguard-review";

    /// <summary>The notes namespace as LibGit2Sharp names it (<see cref="NotesRef"/> without <c>refs/notes/</c>).</summary>
    public const string NotesNamespace = "trainguard-review";

    /// <summary>The statement an approver signs.</summary>
    public static string CreateStatement(string commit, string? @base, string approver, DateTimeOffset date)
    {
        var builder = new StringBuilder();
        builder.Append(Header).Append('\n');
        builder.Append("commit ").Append(commit).Append('\n');
        if (@base is not null)
        {
            builder.Append("base ").Append(@base).Append('\n');
        }

        builder.Append("approver ").Append(approver.Replace('\n', ' ')).Append('\n');
        builder.Append("date ").Append(date.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)).Append('\n');
        return builder.ToString();
    }

    /// <summary>The note text of one approval: the statement, then its armored signature.</summary>
    public string ToNoteText() => Statement + Signature.Trim() + "\n";

    /// <summary>
    /// Every approval in a note's text; a block that is not a well-formed approval is returned in <paramref name="problems"/>
    /// (never silently dropped).
    /// </summary>
    public static List<ApprovalNote> ParseAll(string note, List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(note);
        ArgumentNullException.ThrowIfNull(problems);
        var approvals = new List<ApprovalNote>();
        var text = note.Replace("\r\n", "\n", StringComparison.Ordinal);
        var blocks = text.Split(Header + "\n");
        if (blocks[0].Trim().Length > 0)
        {
            problems.Add($"text that is not an approval: {Findings.TextSanitizer.Escape(blocks[0].Trim(), 80)}");
        }

        foreach (var block in blocks.Skip(1))
        {
            var armor = block.IndexOf("-----BEGIN ", StringComparison.Ordinal);
            if (armor < 0)
            {
                problems.Add("an approval without a signature");
                continue;
            }

            var fields = block[..armor];
            var signature = block[armor..].Trim() + "\n";
            string? Field(string name) => fields.Split('\n').FirstOrDefault(l => l.StartsWith(name + " ", StringComparison.Ordinal))?[(name.Length + 1)..].Trim();
            var commit = Field("commit");
            var approver = Field("approver");
            var date = Field("date");
            if (commit is null || approver is null || date is null)
            {
                problems.Add("an approval statement without commit, approver or date");
                continue;
            }

            approvals.Add(new ApprovalNote(commit, Field("base"), approver, date, Header + "\n" + fields, signature));
        }

        return approvals;
    }
}
