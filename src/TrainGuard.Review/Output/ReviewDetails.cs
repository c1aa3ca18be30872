using System.Text.Json;
using TrainGuard.Output;

namespace TrainGuard.Review.Output;

/// <summary>One commit of the range as the review saw it.</summary>
public sealed record ReviewedCommit(string Sha, string Summary, string Author, string AuthorEmail, string CommitterEmail, string Signature, string? Signer, IReadOnlyList<string> Approvers, IReadOnlyList<string> ProtectedPaths);

/// <summary>What a review reports beside its items: the range, the parser, the two-person rule's outcome per commit.</summary>
public sealed class ReviewDetails : IReportDetails
{
    public required string Repository { get; init; }

    public required string Base { get; init; }

    public required string Head { get; init; }

    public required string Parser { get; init; }

    public required IReadOnlyList<ReviewedCommit> Commits { get; init; }

    public required int FilesChanged { get; init; }

    /// <summary>Null when the two-person rule was not checked (no allowed-signers file).</summary>
    public string? Policy { get; init; }

    public string? FailOn { get; init; }

    /// <summary>The ledger event's id, once sent.</summary>
    public string? EventId { get; set; }

    public IReadOnlyList<string> Warnings { get; init; } = [];

    public bool ReplacesItemText => false;

    public int ExitCode => 0;

    public void WriteJson(Utf8JsonWriter json)
    {
        ArgumentNullException.ThrowIfNull(json);
        json.WriteStartObject("review");
        json.WriteString("repository", Repository);
        json.WriteString("base", Base);
        json.WriteString("head", Head);
        json.WriteString("parser", Parser);
        json.WriteNumber("files_changed", FilesChanged);
        json.WriteBoolean("two_person_checked", Policy is not null);
        if (Policy is not null)
        {
            json.WriteString("policy", Policy);
        }

        if (FailOn is not null)
        {
            json.WriteString("fail_on", FailOn);
        }

        if (EventId is not null)
        {
            json.WriteString("event_id", EventId);
        }

        json.WriteStartArray("warnings");
        foreach (var warning in Warnings)
        {
            json.WriteStringValue(warning);
        }

        json.WriteEndArray();
        json.WriteStartArray("commits");
        foreach (var commit in Commits)
        {
            json.WriteStartObject();
            json.WriteString("sha", commit.Sha);
            json.WriteString("summary", commit.Summary);
            json.WriteString("author", commit.Author);
            json.WriteString("author_email", commit.AuthorEmail);
            json.WriteString("committer_email", commit.CommitterEmail);
            json.WriteString("signature", commit.Signature);
            if (commit.Signer is null)
            {
                json.WriteNull("signer");
            }
            else
            {
                json.WriteString("signer", commit.Signer);
            }

            json.WriteStartArray("approvers");
            foreach (var approver in commit.Approvers)
            {
                json.WriteStringValue(approver);
            }

            json.WriteEndArray();
            json.WriteStartArray("protected_paths");
            foreach (var path in commit.ProtectedPaths)
            {
                json.WriteStringValue(path);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    public void WriteText(TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.WriteLine($"range {Short(Base)}..{Short(Head)} of {Repository}: {Commits.Count} commit(s), {FilesChanged} file(s) changed, Python read with {Parser}");
        if (Policy is null)
        {
            output.WriteLine("two-person rule not checked (give --allowed-signers to check signatures and approvals)");
        }
        else
        {
            output.WriteLine($"two-person rule: {Policy}");
            foreach (var commit in Commits)
            {
                var approvals = commit.Approvers.Count == 0 ? "no approvals" : "approved by " + string.Join(", ", commit.Approvers);
                output.WriteLine($"  {Short(commit.Sha)} {Findings.TextSanitizer.Escape(commit.Summary, 60)} by {Findings.TextSanitizer.Escape(commit.AuthorEmail, 80)}: {commit.Signature}{(commit.Signer is null ? string.Empty : " by " + Findings.TextSanitizer.Escape(commit.Signer, 80))}, {approvals}");
            }
        }

        foreach (var warning in Warnings)
        {
            output.WriteLine($"warning: {warning}");
        }

        if (EventId is not null)
        {
            output.WriteLine($"review event {EventId} recorded in the ledger");
        }
    }

    private static string Short(string sha) => sha.Length > 12 ? sha[..12] : sha;
}
