using TrainGuard.Events;
using TrainGuard.Findings;
using TrainGuard.Review.Output;

namespace TrainGuard.Review;

/// <summary>
/// The <c>review-range-checked</c> event a review sends to the ledger (<c>--server</c>): which range of which repository,
/// what was found, whose commits and whose approvals, so detections can join "an account pushed an unapproved optimizer
/// change" with what happened on the nodes (docs/events.md).
/// </summary>
public static class ReviewEvent
{
    public const string Action = "review-range-checked";
    public const string Module = "review";

    public static EventRecord Create(Report report, string userName, string hostName, DateTimeOffset timestamp)
    {
        ArgumentNullException.ThrowIfNull(report);
        var details = report.Details as ReviewDetails ?? throw new ArgumentException("not a review report", nameof(report));
        var findings = report.Items.SelectMany(i => i.Findings).ToList();
        var worst = findings.Count == 0 ? (Severity?)null : findings.Max(f => f.Severity);
        var key = $"review|{details.Repository}|{details.Base}|{details.Head}|{timestamp.ToUnixTimeMilliseconds()}";
        var record = new EventRecord(timestamp, Action, findings.Any(f => f.Verdict is Verdict.Malicious) ? EventKinds.Alert : EventKinds.Event, UuidV7.FromKey(timestamp, System.Text.Encoding.UTF8.GetBytes(key)));
        record.Set(EventFields.Category, ["configuration"])
            .Set(EventFields.Type, ["change"])
            .Set(EventFields.Outcome, report.ExitCode == ExitCodes.Clean ? EventOutcomes.Success : EventOutcomes.Failure)
            .Set(EventFields.Module, Module)
            .Set(EventFields.Dataset, Module)
            .Set("user.name", userName)
            .Set(EventFields.HostName, hostName)
            .Set("trainguard.review.repository", details.Repository)
            .Set("trainguard.review.base", details.Base)
            .Set("trainguard.review.head", details.Head)
            .Set("trainguard.review.commits", details.Commits.Count)
            .Set("trainguard.review.files", details.FilesChanged)
            .Set("trainguard.review.verdict", report.Overall.ToWireName())
            .Set("trainguard.review.findings", findings.Count)
            .Set("trainguard.review.rules", findings.Select(f => f.RuleId).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray())
            .Set("trainguard.review.unapproved", findings.Where(f => f.RuleId == Rules.ReviewRules.ApprovalMissing.Id).Select(f => f.Location.File).Distinct(StringComparer.Ordinal).ToArray())
            .Set("trainguard.review.authors", details.Commits.Select(c => c.AuthorEmail).Distinct(StringComparer.OrdinalIgnoreCase).ToArray())
            .Set("trainguard.review.committers", details.Commits.Select(c => c.CommitterEmail).Distinct(StringComparer.OrdinalIgnoreCase).ToArray())
            .Set("trainguard.review.approvers", details.Commits.SelectMany(c => c.Approvers).Distinct(StringComparer.OrdinalIgnoreCase).ToArray())
            .Set("trainguard.review.unsigned_commits", details.Commits.Count(c => c.Signature is "unsigned" or "invalid"))
            .Set("trainguard.review.two_person_checked", details.Policy is not null)
            .Set("trainguard.review.parser", details.Parser)
            .Set("trainguard.tool", $"trainguard {ToolInfo.Version}");
        if (worst is { } severity)
        {
            record.Set(EventFields.Severity, severity.ToEventSeverity()).Set("trainguard.severity", severity.ToWireName());
        }

        return record;
    }
}
