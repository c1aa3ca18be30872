using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Verification;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Tests.Witness;

/// <summary>
/// The client's kept signed tree head: first use, growth proven by a consistency proof, and the two ways a log can
/// betray a client that kept an older head: cut at the end (rollback) or a different history (split view).
/// </summary>
public sealed class TreeHeadTrackerTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tg-tracker-").FullName;

    [Fact]
    public async Task First_head_is_kept_and_a_grown_log_is_accepted_after_a_verified_consistency_proof()
    {
        using var log = new TestLog().Append(5);
        var tracker = TreeHeadTracker.ForLog(_directory, log.Key.Verifier, log.Origin);

        var first = await tracker.AdvanceAsync(log.Head(), log.Proofs);
        Assert.Equal(TreeHeadChange.FirstUse, first.Change);
        Assert.Equal(log.Head(), await File.ReadAllTextAsync(tracker.StateFile));

        log.Append(7);
        var grew = await tracker.AdvanceAsync(log.Head(), log.Proofs);
        Assert.Equal(TreeHeadChange.Grew, grew.Change);
        Assert.Equal(1, log.ProofRequests);
        Assert.Equal(12, TreeHeadTracker.ForLog(_directory, log.Key.Verifier, log.Origin).Kept!.Size);

        var same = await tracker.AdvanceAsync(log.Head(), log.Proofs);
        Assert.Equal(TreeHeadChange.Unchanged, same.Change);
        Assert.Equal(1, log.ProofRequests);
    }

    [Fact]
    public async Task Smaller_head_is_a_rollback_and_the_kept_head_stays()
    {
        using var log = new TestLog().Append(12);
        var tracker = TreeHeadTracker.ForLog(_directory, log.Key.Verifier, log.Origin);
        await tracker.AdvanceAsync(log.Head(), log.Proofs);

        var cut = await tracker.AdvanceAsync(log.Head(8), log.Proofs);

        Assert.Equal(TreeHeadChange.RolledBack, cut.Change);
        Assert.True(cut.IsEvidence);
        Assert.Equal((12L, 8L), (cut.Kept!.Size, cut.New!.Size));
        Assert.Equal(log.Head(12), cut.KeptNote);
        Assert.Equal(log.Head(8), cut.NewNote);
        Assert.Equal(log.Head(12), await File.ReadAllTextAsync(tracker.StateFile));
    }

    [Fact]
    public async Task Same_size_with_another_root_is_a_split_view()
    {
        var key = NoteSigner.Generate("test.example/log");
        using var honest = new TestLog(key: key).Append(6);
        using var forked = new TestLog(key: NoteSigner.Parse(key.SignerKey)).Append(5).Append(1, "forged");
        var tracker = TreeHeadTracker.ForLog(_directory, key.Verifier, honest.Origin);
        await tracker.AdvanceAsync(honest.Head(), honest.Proofs);

        var split = await tracker.AdvanceAsync(forked.Head(), forked.Proofs);

        Assert.Equal(TreeHeadChange.SplitView, split.Change);
        Assert.Contains("different roots", split.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Larger_head_that_does_not_extend_the_kept_one_is_a_split_view()
    {
        var key = NoteSigner.Generate("test.example/log");
        using var honest = new TestLog(key: key).Append(6);
        using var rewritten = new TestLog(key: NoteSigner.Parse(key.SignerKey)).Append(3).Append(9, "rewritten");
        var tracker = TreeHeadTracker.ForLog(_directory, key.Verifier, honest.Origin);
        await tracker.AdvanceAsync(honest.Head(), honest.Proofs);

        var split = await tracker.AdvanceAsync(rewritten.Head(), rewritten.Proofs);

        Assert.Equal(TreeHeadChange.SplitView, split.Change);
        Assert.Contains("does not verify", split.Problem, StringComparison.Ordinal);
        Assert.Equal(honest.Head(), await File.ReadAllTextAsync(tracker.StateFile));
    }

    [Fact]
    public async Task Head_signed_by_another_key_or_for_another_origin_or_malformed_is_untrusted_and_not_kept()
    {
        using var log = new TestLog().Append(4);
        using var other = new TestLog().Append(9);
        var tracker = TreeHeadTracker.ForLog(_directory, log.Key.Verifier, log.Origin);
        await tracker.AdvanceAsync(log.Head(), log.Proofs);
        using var sameKeyOtherOrigin = new TestLog("other.example/log", NoteSigner.Parse(log.Key.SignerKey)).Append(9);

        Assert.Equal(TreeHeadChange.Untrusted, (await tracker.AdvanceAsync(other.Head(), other.Proofs)).Change);
        Assert.Equal(TreeHeadChange.Untrusted, (await tracker.AdvanceAsync(sameKeyOtherOrigin.Head(), log.Proofs)).Change);
        Assert.Equal(TreeHeadChange.Untrusted, (await tracker.AdvanceAsync("not a note", log.Proofs)).Change);
        Assert.Equal(4, TreeHeadTracker.ForLog(_directory, log.Key.Verifier, log.Origin).Kept!.Size);
    }

    [Fact]
    public async Task Kept_head_edited_on_disk_is_refused_naming_the_file()
    {
        using var log = new TestLog().Append(4);
        var tracker = TreeHeadTracker.ForLog(_directory, log.Key.Verifier, log.Origin);
        await tracker.AdvanceAsync(log.Head(), log.Proofs);
        await File.WriteAllTextAsync(tracker.StateFile, log.Head().Replace("\n4\n", "\n3\n", StringComparison.Ordinal));

        var e = Assert.Throws<MalformedInputException>(() => TreeHeadTracker.ForLog(_directory, log.Key.Verifier, log.Origin));

        Assert.Contains(tracker.StateFile, e.Message, StringComparison.Ordinal);
        Assert.Contains("not signed", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void State_files_are_named_per_origin_and_key_with_hostile_origins_escaped()
    {
        using var log = new TestLog();
        var a = TreeHeadTracker.FileFor(_directory, log.Key.Verifier, "example.com/log");
        var b = TreeHeadTracker.FileFor(_directory, log.Key.Verifier, "../../etc/passwd");
        var c = TreeHeadTracker.FileFor(_directory, log.Key.Verifier, new string('x', 500));

        Assert.Equal(Path.Combine(_directory, $"example.com%2Flog+{log.Key.KeyId:x8}.tree-head"), a);
        Assert.Equal(_directory, Path.GetDirectoryName(b));
        Assert.DoesNotContain("/", Path.GetFileName(b), StringComparison.Ordinal);
        Assert.StartsWith("%2E", Path.GetFileName(b), StringComparison.Ordinal);
        Assert.True(Path.GetFileName(c).Length < 160);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
