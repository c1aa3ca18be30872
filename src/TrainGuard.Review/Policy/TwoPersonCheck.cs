using System.Text;
using LibGit2Sharp;
using TrainGuard.Findings;
using TrainGuard.Review.Output;
using TrainGuard.Review.Rules;
using TrainGuard.Review.Signing;

namespace TrainGuard.Review.Policy;

/// <summary>
/// The two-person rule for one commit: its signature verified offline (SSH against the allowed-signers file, OpenPGP
/// against the pinned keyring) and bound to its committer or author, and, for the protected paths it changes, the valid
/// approvals of other people in the required group (signed notes in <see cref="ApprovalNote.NotesRef"/>, verified in
/// TrainGuard's namespace, the approver being the principal the signature verifies for).
/// </summary>
internal sealed class TwoPersonCheck
{
    private readonly Repository _repo;
    private readonly ReviewPolicy _policy;
    private readonly SshSignatures _ssh;
    private readonly GpgSignatures? _gpg;
    private readonly Dictionary<string, List<(ApprovalNote Note, string NoteCommit)>> _approvalsCovering = new(StringComparer.Ordinal);
    private readonly List<(string NoteCommit, string Problem)> _malformedNotes = [];
    private readonly Dictionary<string, SignatureCheck> _approvalChecks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string? Signer, string State)> _signers = new(StringComparer.Ordinal);

    public TwoPersonCheck(Repository repo, ReviewPolicy policy, SshSignatures ssh, GpgSignatures? gpg)
    {
        _repo = repo;
        _policy = policy;
        _ssh = ssh;
        _gpg = gpg;
        LoadApprovals();
    }

    public async Task<(ReviewedCommit Info, List<Finding> Findings)> CheckAsync(Commit commit, CancellationToken cancellationToken)
    {
        var findings = new List<Finding>();
        var where = new Location(commit.Sha);
        var identity = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["commit"] = commit.Sha,
            ["author"] = commit.Author.Email,
            ["committer"] = commit.Committer.Email,
        };

        // The commit's signature, bound to its committer (or author).
        var (signer, state) = await SignerAsync(commit, cancellationToken);
        switch (state)
        {
            case "unsigned" when _policy.SignedCommitsRequired:
                findings.Add(ReviewRules.Unsigned.Finding($"commit {Short(commit)} by {commit.Author.Email} is not signed", where, identity));
                break;
            case "invalid":
                findings.Add(ReviewRules.SignatureInvalid.Finding($"commit {Short(commit)}: signature {signer}", where, identity));
                signer = null;
                break;
            case "valid" when !Same(signer, commit.Committer.Email) && !Same(signer, commit.Author.Email):
                findings.Add(ReviewRules.SignerMismatch.Finding($"commit {Short(commit)} is signed by {signer}, who is neither its committer {commit.Committer.Email} nor its author {commit.Author.Email}", where, new Dictionary<string, string>(identity) { ["signer"] = signer! }));
                break;
        }

        // Protected paths this commit changes, and the approvals that cover it.
        var changed = ChangedPaths(commit);
        var requirements = _policy.Protect.Select(p => (Rule: p, Paths: changed.Where(p.Matches).ToList())).Where(x => x.Paths.Count > 0).ToList();
        var people = new[] { commit.Author.Email, commit.Committer.Email, signer }.OfType<string>().ToList();
        var approvers = new List<string>();
        foreach (var (note, noteCommit) in _approvalsCovering.GetValueOrDefault(commit.Sha) ?? [])
        {
            var check = await CheckApprovalAsync(note, cancellationToken);
            var approvalWhere = new Dictionary<string, string>(identity) { ["note_on"] = noteCommit, ["claimed_approver"] = note.ClaimedApprover };
            if (!check.Valid)
            {
                findings.Add(ReviewRules.ApprovalInvalid.Finding($"approval of {Short(commit)} claimed by {note.ClaimedApprover} does not count: its signature {check.Detail}", where, approvalWhere));
                continue;
            }

            if (people.Any(p => Same(p, check.Principal)))
            {
                findings.Add(ReviewRules.SelfApproval.Finding($"approval of {Short(commit)} by {check.Principal} refused: they are its {Role(commit, signer, check.Principal!)}", where, new Dictionary<string, string>(approvalWhere) { ["approver"] = check.Principal! }));
                continue;
            }

            if (!approvers.Contains(check.Principal!, StringComparer.OrdinalIgnoreCase))
            {
                approvers.Add(check.Principal!);
            }
        }

        foreach (var (note, problem) in _malformedNotes.Where(m => m.NoteCommit == commit.Sha).Select(m => (m.NoteCommit, m.Problem)))
        {
            findings.Add(ReviewRules.ApprovalInvalid.Finding($"the review note of {Short(commit)} holds {problem}", where, identity));
        }

        foreach (var (rule, paths) in requirements)
        {
            var counted = approvers.Where(a => _policy.InGroup(a, rule.Group)).ToList();
            if (counted.Count < rule.Approvals)
            {
                findings.Add(ReviewRules.ApprovalMissing.Finding(
                    $"commit {Short(commit)} by {commit.Author.Email} changes {string.Join(", ", paths.Take(5))}{(paths.Count > 5 ? $" and {paths.Count - 5} more" : string.Empty)} ({rule.Describe()}): {counted.Count} valid approval{(counted.Count == 1 ? string.Empty : "s")}{(counted.Count > 0 ? " (" + string.Join(", ", counted) + ")" : string.Empty)}",
                    new Location(paths[0]),
                    new Dictionary<string, string>(identity) { ["policy"] = rule.Where, ["required"] = rule.Approvals.ToString(System.Globalization.CultureInfo.InvariantCulture) }));
            }
        }

        var info = new ReviewedCommit(commit.Sha, ReviewEngine.Summary(commit), commit.Author.Name, commit.Author.Email, commit.Committer.Email, state, state == "valid" ? signer : null, approvers, requirements.SelectMany(r => r.Paths).Distinct(StringComparer.Ordinal).ToList());
        return (info, findings);
    }

    private static string Role(Commit commit, string? signer, string principal) =>
        string.Join(" and ", new[] { ("author", commit.Author.Email), ("committer", commit.Committer.Email), ("signer", signer) }
            .Where(r => Same(r.Item2, principal)).Select(r => r.Item1).Distinct());

    private async Task<(string? Signer, string State)> SignerAsync(Commit commit, CancellationToken cancellationToken)
    {
        if (_signers.TryGetValue(commit.Sha, out var known))
        {
            return known;
        }

        SignatureInfo info;
        try
        {
            info = Commit.ExtractSignature(_repo, commit.Id);
        }
        catch (NotFoundException)
        {
            return _signers[commit.Sha] = (null, "unsigned");
        }

        var data = Encoding.UTF8.GetBytes(info.SignedData);
        SignatureCheck check;
        if (info.Signature.Contains(SshSignatures.Armor, StringComparison.Ordinal))
        {
            check = await _ssh.VerifyAsync(info.Signature, data, SshSignatures.GitNamespace, cancellationToken);
        }
        else if (info.Signature.Contains(GpgSignatures.Armor, StringComparison.Ordinal))
        {
            check = _gpg is null
                ? SignatureCheck.Failed("is OpenPGP and no --gpg-keyring was given to check it")
                : await _gpg.VerifyAsync(info.Signature, data, cancellationToken);
        }
        else
        {
            check = SignatureCheck.Failed("is neither an SSH nor an OpenPGP signature");
        }

        return _signers[commit.Sha] = check.Valid ? (check.Principal, "valid") : (check.Detail, "invalid");
    }

    private async Task<SignatureCheck> CheckApprovalAsync(ApprovalNote note, CancellationToken cancellationToken)
    {
        var key = note.Statement + note.Signature;
        if (!_approvalChecks.TryGetValue(key, out var check))
        {
            check = note.Signature.Contains(SshSignatures.Armor, StringComparison.Ordinal)
                ? await _ssh.VerifyAsync(note.Signature, Encoding.UTF8.GetBytes(note.Statement), SshSignatures.ApprovalNamespace, cancellationToken)
                : SignatureCheck.Failed("is not an SSH signature (approvals are signed with trainguard review approve --key SSH_KEY)");
            _approvalChecks[key] = check;
        }

        return check;
    }

    private List<string> ChangedPaths(Commit commit)
    {
        var parent = commit.Parents.FirstOrDefault();
        return _repo.Diff.Compare<TreeChanges>(parent?.Tree, commit.Tree).Select(c => c.Path).ToList();
    }

    /// <summary>Reads every note of the approvals namespace once: which commits each approval covers.</summary>
    private void LoadApprovals()
    {
        foreach (var note in _repo.Notes[ApprovalNote.NotesNamespace])
        {
            var target = note.TargetObjectId.Sha;
            var problems = new List<string>();
            foreach (var approval in ApprovalNote.ParseAll(note.Message ?? string.Empty, problems))
            {
                if (!string.Equals(approval.Commit, target, StringComparison.OrdinalIgnoreCase))
                {
                    problems.Add($"an approval of another commit ({Findings.TextSanitizer.Escape(approval.Commit, 60)})");
                    continue;
                }

                foreach (var covered in Covered(approval, target))
                {
                    if (!_approvalsCovering.TryGetValue(covered, out var list))
                    {
                        _approvalsCovering[covered] = list = [];
                    }

                    list.Add((approval, target));
                }
            }

            _malformedNotes.AddRange(problems.Select(p => (target, p)));
        }
    }

    private IEnumerable<string> Covered(ApprovalNote approval, string target)
    {
        if (approval.Base is null)
        {
            return [target];
        }

        var head = _repo.Lookup<Commit>(target);
        var from = _repo.Lookup<Commit>(approval.Base);
        return head is null || from is null
            ? [target]
            : _repo.Commits.QueryBy(new CommitFilter { IncludeReachableFrom = head, ExcludeReachableFrom = from }).Select(c => c.Sha).ToList();
    }

    private static bool Same(string? a, string? b) => a is not null && b is not null && string.Equals(a.Trim(), b.Trim(), StringComparison.OrdinalIgnoreCase);

    private static string Short(Commit commit) => commit.Sha[..12];
}
