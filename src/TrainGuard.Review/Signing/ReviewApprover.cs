using System.Text;
using LibGit2Sharp;

namespace TrainGuard.Review.Signing;

/// <summary>What <c>trainguard review approve</c> wrote.</summary>
public sealed record ApprovalResult(string Commit, string? Base, string Approver, string Statement, int ApprovalsInNote);

/// <summary>
/// <c>trainguard review approve COMMIT --key KEY</c>: signs an approval statement for a commit with an SSH key in
/// TrainGuard's namespace (<see cref="SshSignatures.ApprovalNamespace"/>) and appends it to the commit's note in
/// <see cref="ApprovalNote.NotesRef"/> (push it with <c>git push origin refs/notes/trainguard-review</c>).
/// </summary>
public static class ReviewApprover
{
    public static async Task<ApprovalResult> ApproveAsync(string repository, string revision, string key, string? baseRevision, string? approver, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        if (!File.Exists(key))
        {
            throw new ReviewException($"--key: file {Path.GetFullPath(key)} does not exist");
        }

        using var repo = ReviewEngine.Open(repository);
        var commit = ReviewEngine.Resolve(repo, revision, "COMMIT");
        var @base = baseRevision is null ? null : ReviewEngine.Resolve(repo, baseRevision, "--base");
        var who = approver ?? repo.Config.Get<string>("user.email")?.Value
            ?? throw new ReviewException("--as: say who approves (the principal of your key in the allowed-signers file), or set git config user.email");
        var statement = ApprovalNote.CreateStatement(commit.Sha, @base?.Sha, who, now);
        string signature;
        try
        {
            signature = await SshSignatures.SignAsync(Encoding.UTF8.GetBytes(statement), Path.GetFullPath(key), SshSignatures.ApprovalNamespace, cancellationToken: cancellationToken);
        }
        catch (InvalidOperationException ex)
        {
            throw new ReviewException($"--key: {ex.Message}", ex);
        }

        var approval = new ApprovalNote(commit.Sha, @base?.Sha, who, now.ToString("O"), statement, signature);
        var existing = repo.Notes[commit.Id].FirstOrDefault(n => n.Namespace == ApprovalNote.NotesNamespace)?.Message;
        var text = (existing is null ? string.Empty : existing.TrimEnd() + "\n\n") + approval.ToNoteText();
        var name = repo.Config.Get<string>("user.name")?.Value ?? "trainguard";
        var identity = new Signature(name, who, now);
        repo.Notes.Add(commit.Id, text, identity, identity, ApprovalNote.NotesNamespace);
        var count = ApprovalNote.ParseAll(text, []).Count;
        return new ApprovalResult(commit.Sha, @base?.Sha, who, statement, count);
    }
}
