using System.Diagnostics;
using LibGit2Sharp;
using TrainGuard.Findings;
using TrainGuard.Review.Analysis;
using TrainGuard.Review.Output;
using TrainGuard.Review.Parsing;
using TrainGuard.Review.Policy;
using TrainGuard.Review.Rules;
using TrainGuard.Review.Signing;
using TrainGuard.Scanning.Scanner;

namespace TrainGuard.Review;

/// <summary>
/// <c>trainguard review</c>: reads a range of a git repository through LibGit2Sharp and reports (1) what the change from
/// BASE to HEAD adds or removes in Python files, sensitive files and artifacts, and (2) with an allowed-signers file, the
/// two-person rule for every commit of the range: its signature, bound to its committer, and the approvals its protected
/// paths need (signed notes in <c>refs/notes/trainguard-review</c>). Nothing of the repository is ever run: blobs are read
/// from the object database, never checked out.
/// </summary>
public static class ReviewEngine
{
    /// <summary>Largest blob read (a larger one is reported by name, not read).</summary>
    public const long MaxBlobBytes = 512L * 1024 * 1024;

    public static async Task<Report> RunAsync(ReviewOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var policy = LoadPolicy(options);
        using var repo = Open(options.Repository);
        var (baseCommit, headCommit) = ParseRange(repo, options.Range);
        var warnings = new List<string>();
        using var parser = PythonParsers.Create(options.Parser, out var parserWarning);
        if (parserWarning is not null)
        {
            warnings.Add(parserWarning);
        }

        using var reviewer = new FileReviewer(parser, new ArtifactScanner());
        var items = new List<AnalyzedItem>();
        var changes = repo.Diff.Compare<TreeChanges>(baseCommit.Tree, headCommit.Tree);
        if (changes.Count > options.MaxFiles)
        {
            throw new ReviewException($"--range {options.Range} changes {changes.Count:N0} files, over the limit of {options.MaxFiles:N0}; review a smaller range");
        }

        foreach (var change in changes.OrderBy(c => c.Path, StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (change.Mode == Mode.GitLink || change.OldMode == Mode.GitLink)
            {
                continue;
            }

            var before = change.Status is ChangeKind.Added ? null : Read(repo, change.OldOid, change.OldMode);
            var after = change.Status is ChangeKind.Deleted ? null : Read(repo, change.Oid, change.Mode);
            var review = reviewer.Review(change.Path, before, after, cancellationToken);
            items.Add(Item(change.Path, review.Kind, review.Findings, options.FailOn));
        }

        var commits = repo.Commits.QueryBy(new CommitFilter
        {
            IncludeReachableFrom = headCommit,
            ExcludeReachableFrom = baseCommit,
            SortBy = CommitSortStrategies.Topological | CommitSortStrategies.Reverse,
        }).Take(options.MaxCommits + 1).ToList();
        if (commits.Count > options.MaxCommits)
        {
            throw new ReviewException($"--range {options.Range} holds more than {options.MaxCommits:N0} commits; review a smaller range");
        }

        List<ReviewedCommit> reviewed;
        if (policy is not null)
        {
            var twoPerson = new TwoPersonCheck(repo, policy, new SshSignatures(options.AllowedSigners!), options.GpgKeyring is null ? null : new GpgSignatures(options.GpgKeyring));
            reviewed = [];
            foreach (var commit in commits)
            {
                var (info, findings) = await twoPerson.CheckAsync(commit, cancellationToken);
                reviewed.Add(info);
                items.Add(Item(commit.Sha, "commit", findings, options.FailOn));
            }
        }
        else
        {
            reviewed = commits.Select(c => new ReviewedCommit(c.Sha, Summary(c), c.Author.Name, c.Author.Email, c.Committer.Email, "not checked", null, [], [])).ToList();
        }

        return new Report
        {
            Command = "review",
            Items = items,
            ItemsName = "items",
            Rules = [.. ReviewRules.Family.Descriptors, .. new ArtifactScanner().Rules],
            StartedAt = started,
            Elapsed = clock.Elapsed,
            Details = new ReviewDetails
            {
                Repository = options.Repository,
                Base = baseCommit.Sha,
                Head = headCommit.Sha,
                Parser = reviewer.ParserName,
                Commits = reviewed,
                FilesChanged = changes.Count,
                Policy = policy is null ? null : $"{policy.Source} ({string.Join("; ", policy.Protect.Select(p => p.Describe()))}; signed commits {(policy.SignedCommitsRequired ? "required" : "optional")})",
                FailOn = options.FailOn?.ToWireName(),
                Warnings = warnings,
            },
        };
    }

    /// <summary>The item of one file or commit; findings below <paramref name="failOn"/> do not set its verdict.</summary>
    private static AnalyzedItem Item(string path, string kind, IReadOnlyList<Finding> findings, Severity? failOn) => new()
    {
        Path = path,
        Format = kind,
        Findings = findings,
        Verdict = findings.Aggregate(Verdict.Clean, (verdict, f) => failOn is { } threshold && f.Severity < threshold && f.Verdict != Verdict.Error ? verdict : verdict.Combine(f.Verdict)),
    };

    private static ReviewPolicy? LoadPolicy(ReviewOptions options)
    {
        foreach (var (file, option) in new[] { (options.PolicyFile, "--policy"), (options.AllowedSigners, "--allowed-signers"), (options.GpgKeyring, "--gpg-keyring") })
        {
            if (file is not null && !File.Exists(file))
            {
                throw new ReviewException($"{option}: file {Path.GetFullPath(file)} does not exist");
            }
        }

        if (options.AllowedSigners is null)
        {
            return (options.PolicyFile, options.GpgKeyring) switch
            {
                (not null, _) => throw new ReviewException("--policy needs --allowed-signers: approvals and signatures are checked against it"),
                (_, not null) => throw new ReviewException("--gpg-keyring needs --allowed-signers: approvals are SSH signatures checked against it"),
                _ => null,
            };
        }

        try
        {
            return options.PolicyFile is null ? ReviewPolicy.Default : ReviewPolicy.Load(options.PolicyFile);
        }
        catch (TrainGuard.Parsing.MalformedInputException ex)
        {
            throw new ReviewException($"--policy: {ex.Message}", ex);
        }
    }

    /// <summary>Opens a repository (a work tree or a bare one); anything else is an error naming the path.</summary>
    public static Repository Open(string path)
    {
        var full = Path.GetFullPath(path);
        if (!Directory.Exists(full))
        {
            throw new ReviewException($"--repo: folder {full} does not exist");
        }

        var found = Repository.Discover(full);
        if (found is null || !Repository.IsValid(found))
        {
            throw new ReviewException($"--repo: {full} is not a git repository");
        }

        try
        {
            return new Repository(found);
        }
        catch (LibGit2SharpException ex)
        {
            throw new ReviewException($"--repo: {full} cannot be opened: {ex.Message}", ex);
        }
    }

    /// <summary>The commit a revision names (a branch, tag, sha or expression such as <c>main~3</c>), or an error naming it.</summary>
    public static Commit Resolve(Repository repo, string revision, string what)
    {
        GitObject? found;
        try
        {
            found = repo.Lookup(revision);
        }
        catch (LibGit2SharpException ex)
        {
            throw new ReviewException($"{what}: '{revision}' is not a revision of the repository: {ex.Message}", ex);
        }

        return found switch
        {
            Commit commit => commit,
            TagAnnotation tag when tag.Target.Peel<Commit>() is { } peeled => peeled,
            null => throw new ReviewException($"{what}: '{revision}' names no commit of the repository"),
            _ => throw new ReviewException($"{what}: '{revision}' is a {found.GetType().Name.ToLowerInvariant()}, not a commit"),
        };
    }

    private static (Commit Base, Commit Head) ParseRange(Repository repo, string range)
    {
        var parts = range.Split("..");
        if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0 || parts[1].StartsWith('.'))
        {
            throw new ReviewException($"--range: '{range}' is not BASE..HEAD (two revisions joined by '..', e.g. main..feature)");
        }

        return (Resolve(repo, parts[0], "--range BASE"), Resolve(repo, parts[1], "--range HEAD"));
    }

    private static byte[]? Read(Repository repo, ObjectId id, Mode mode)
    {
        if (mode == Mode.Directory || id == ObjectId.Zero)
        {
            return null;
        }

        var blob = repo.Lookup<Blob>(id);
        if (blob is null)
        {
            throw new ReviewException($"blob {id} is missing from the repository (a shallow or damaged clone)");
        }

        if (blob.Size > MaxBlobBytes)
        {
            throw new ReviewException($"blob {id} is {blob.Size:N0} bytes, over the {MaxBlobBytes:N0}-byte limit");
        }

        using var stream = blob.GetContentStream();
        using var buffer = new MemoryStream((int)blob.Size);
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }

    internal static string Summary(Commit commit) => commit.MessageShort ?? string.Empty;
}
