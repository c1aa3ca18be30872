using TrainGuard.Agent.Checkpoints;
using TrainGuard.Agent.Spool;
using TrainGuard.Agent.Tests.Support;
using TrainGuard.Events;

namespace TrainGuard.Agent.Tests.Checkpoints;

public sealed class CheckpointWatcherTests
{
    private static readonly DateTimeOffset Later = DateTimeOffset.UtcNow.AddHours(1);

    private static CheckpointWatcher Watcher(TempDir dir, string? state = null, TimeSpan? settle = null) =>
        new(new CheckpointWatchOptions { Folders = [dir.Combine("runs")], Settle = settle ?? TimeSpan.Zero, StatePath = state });

    private static void Copy(TempDir dir, string fixture, string relative)
    {
        var target = dir.Combine("runs", relative);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.Copy(Fixtures.Path(fixture), target, overwrite: true);
    }

    [Fact]
    public void A_new_poisoned_checkpoint_becomes_an_artifact_scanned_alert_with_its_findings()
    {
        using var dir = new TempDir();
        Copy(dir, "benign/optimizer-adamw-3-steps.pt", "run1/checkpoint-500/optimizer.pt");
        Copy(dir, "malicious/os-system-p2.pkl", "run1/checkpoint-500/rng_state.pth");
        var events = Watcher(dir).Poll(Later);

        Assert.Equal(2, events.Count);
        Assert.All(events, e => Assert.Equal(EventActions.ArtifactScanned, e.Action));
        var bad = Assert.Single(events, e => e.GetString("file.name") == "rng_state.pth");
        Assert.Equal("malicious", bad.GetString("trainguard.scan.verdict"));
        Assert.Equal(EventKinds.Alert, bad.GetString(EventFields.Kind));
        Assert.Contains("TG-PKL-001", bad.GetStrings("trainguard.scan.findings"));
        Assert.Equal("TG-PKL-001", bad.GetString("trainguard.finding.rule"));
        Assert.NotNull(bad.GetString("file.hash.sha256"));
        Assert.True(bad.Get("trainguard.scan.details") is System.Text.Json.Nodes.JsonArray { Count: > 0 });
        Assert.Equal("new", bad.GetString("trainguard.scan.change"));

        var good = Assert.Single(events, e => e.GetString("file.name") == "optimizer.pt");
        Assert.Equal("clean", good.GetString("trainguard.scan.verdict"));
        Assert.Equal(EventKinds.Event, good.GetString(EventFields.Kind));
    }

    [Fact]
    public void The_owner_of_a_scanned_file_is_named_from_the_node_accounts()
    {
        using var dir = new TempDir();
        Copy(dir, "malicious/os-system-p2.pkl", "run1/checkpoint-500/rng_state.pth");
        Assert.True(TrainGuard.Agent.Common.UnixFile.TryStat(dir.Combine("runs", "run1", "checkpoint-500", "rng_state.pth"), out var status, out var error), error);
        var names = TrainGuard.Agent.Common.PasswdFile.Parse($"intern7:x:{status.Uid}:{status.Gid}::/home/intern7:/bin/bash\n", $"ml-shared:x:{status.Gid}:\n");
        var watcher = new CheckpointWatcher(new CheckpointWatchOptions { Folders = [dir.Combine("runs")], Settle = TimeSpan.Zero, AccountNames = names });

        var bad = Assert.Single(watcher.Poll(Later));

        Assert.Equal(status.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture), bad.GetString("file.uid"));
        Assert.Equal("intern7", bad.GetString("file.owner"));
        Assert.Equal("ml-shared", bad.GetString("file.group"));

        // Without the node's accounts the uid alone is reported.
        var unnamed = Assert.Single(Watcher(dir).Poll(Later));
        Assert.Null(unnamed.GetString("file.owner"));
        Assert.NotNull(unnamed.GetString("file.uid"));
    }

    [Fact]
    public void Unchanged_files_are_not_scanned_again_and_a_changed_file_is()
    {
        using var dir = new TempDir();
        Copy(dir, "benign/optimizer-adamw-3-steps.pt", "ckpt/optimizer.pt");
        var watcher = Watcher(dir);
        Assert.Single(watcher.Poll(Later));
        Assert.Empty(watcher.Poll(Later));

        Copy(dir, "malicious/posix-system.pkl", "ckpt/optimizer.pt");
        File.SetLastWriteTimeUtc(dir.Combine("runs", "ckpt", "optimizer.pt"), DateTime.UtcNow.AddMinutes(-5));
        var changed = Assert.Single(watcher.Poll(Later));
        Assert.Equal("changed", changed.GetString("trainguard.scan.change"));
        Assert.Equal("malicious", changed.GetString("trainguard.scan.verdict"));
    }

    [Fact]
    public void A_file_still_being_written_waits_until_it_settles()
    {
        using var dir = new TempDir();
        Copy(dir, "benign/optimizer-adamw-3-steps.pt", "ckpt/optimizer.pt");
        File.SetLastWriteTimeUtc(dir.Combine("runs", "ckpt", "optimizer.pt"), DateTime.UtcNow);
        var watcher = Watcher(dir, settle: TimeSpan.FromMinutes(1));
        Assert.Empty(watcher.Poll(DateTimeOffset.UtcNow));
        Assert.Single(watcher.Poll(DateTimeOffset.UtcNow.AddMinutes(2)));
    }

    [Fact]
    public void A_deleted_checkpoint_is_a_file_deleted_event_and_known_files_survive_a_restart()
    {
        using var dir = new TempDir();
        Copy(dir, "benign/optimizer-adamw-3-steps.pt", "ckpt/optimizer.pt");
        Copy(dir, "benign/nested-structure.pt", "ckpt/model.pt");
        var state = dir.Combine("state", "checkpoints.json");
        Directory.CreateDirectory(dir.Combine("state"));
        Assert.Equal(2, Watcher(dir, state).Poll(Later).Count);

        File.Delete(dir.Combine("runs", "ckpt", "model.pt"));
        var restarted = Watcher(dir, state);
        var deleted = Assert.Single(restarted.Poll(Later));
        Assert.Equal(EventActions.FileDeleted, deleted.Action);
        Assert.EndsWith("ckpt/model.pt", deleted.GetString("file.path"), StringComparison.Ordinal);
        Assert.Equal(["deletion"], deleted.GetStrings(EventFields.Type));
        Assert.NotNull(deleted.GetString("file.hash.sha256"));
    }

    [Fact]
    public void An_unreachable_folder_is_a_problem_not_a_mass_deletion()
    {
        using var dir = new TempDir();
        Copy(dir, "benign/optimizer-adamw-3-steps.pt", "ckpt/optimizer.pt");
        var watcher = Watcher(dir);
        Assert.Single(watcher.Poll(Later));
        Directory.Move(dir.Combine("runs"), dir.Combine("runs-unmounted"));
        Assert.Empty(watcher.Poll(Later));
        Assert.Contains(watcher.Problems, p => p.Contains("not found or not reachable", StringComparison.Ordinal));
    }

    /// <summary>A protocol-0 pickle that calls os.system, and a harmless one of exactly the same length (29 bytes).</summary>
    private static readonly byte[] SystemCall = "cos\nsystem\n(S'echo pwned'\ntR."u8.ToArray();
    private static readonly byte[] PlainString = "S'xxxxxxxxxxxxxxxxxxxxxxxx'\n."u8.ToArray();

    private static void Mkfifo(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var mkfifo = System.Diagnostics.Process.Start("mkfifo", [path])!;
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }

    /// <summary>Polls on a worker thread: a watcher that blocks fails the test instead of hanging it.</summary>
    private static List<EventRecord> PollWithin(CheckpointWatcher watcher, TimeSpan limit)
    {
        var poll = Task.Run(() => watcher.Poll(Later));
        Assert.True(poll.Wait(limit), $"the watcher did not finish a poll within {limit.TotalSeconds} s (blocked on a special file?)");
        return poll.Result;
    }

    [Fact]
    public void Replacing_a_checkpoint_with_a_symlink_to_a_malicious_file_no_longer_blinds_the_watcher()
    {
        using var dir = new TempDir();
        Copy(dir, "benign/optimizer-adamw-3-steps.pt", "run1/checkpoint-500/optimizer.pt");
        var watcher = Watcher(dir);
        Assert.Single(watcher.Poll(Later));

        // The attack: the checkpoint becomes a link to a payload outside the watched folder; torch.load follows it.
        var payload = dir.Write("elsewhere/evil.pt", string.Empty);
        File.Copy(Fixtures.Path("malicious/os-system-p2.pkl"), payload, overwrite: true);
        var checkpoint = dir.Combine("runs", "run1", "checkpoint-500", "optimizer.pt");
        File.Delete(checkpoint);
        File.CreateSymbolicLink(checkpoint, payload);

        var e = Assert.Single(watcher.Poll(Later));
        Assert.Equal(EventActions.ArtifactScanned, e.Action);
        Assert.Equal("symlink", e.GetString("file.type"));
        Assert.Equal(payload, e.GetString("file.target_path"));
        Assert.Equal("replaced", e.GetString("trainguard.scan.change"));
        Assert.Equal("file", e.GetString("trainguard.checkpoint.previous.type"));
        Assert.Equal("malicious", e.GetString("trainguard.scan.verdict"));
        Assert.Contains("TG-PKL-001", e.GetStrings("trainguard.scan.findings"));
        Assert.Equal(EventKinds.Alert, e.GetString(EventFields.Kind));
        Assert.True(e.GetBoolean("trainguard.checkpoint.link_outside_watched"));
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(payload)), Convert.FromHexString(e.GetString("file.hash.sha256")!));
        Assert.Empty(watcher.Poll(Later));
    }

    [Fact]
    public void A_new_symlink_to_a_clean_file_is_still_an_event_naming_its_target()
    {
        using var dir = new TempDir();
        Copy(dir, "benign/optimizer-adamw-3-steps.pt", "ckpt/real.pt");
        File.CreateSymbolicLink(dir.Combine("runs", "ckpt", "alias.pt"), "real.pt");
        var events = Watcher(dir).Poll(Later);
        var link = Assert.Single(events, e => e.GetString("file.name") == "alias.pt");
        Assert.Equal("symlink", link.GetString("file.type"));
        Assert.Equal("clean", link.GetString("trainguard.scan.verdict"));
        Assert.Equal("real.pt", link.GetString("trainguard.checkpoint.link_target"));
        Assert.False(link.GetBoolean("trainguard.checkpoint.link_outside_watched"));
        Assert.Equal(25, link.GetInt64(EventFields.Severity));
    }

    [Fact]
    public void A_fifo_named_like_a_checkpoint_no_longer_blocks_the_watcher_and_is_an_event()
    {
        using var dir = new TempDir();
        Mkfifo(dir.Combine("runs", "ckpt", "a.pt"));
        Copy(dir, "malicious/os-system-p2.pkl", "ckpt/z.pt");
        var watcher = Watcher(dir);

        var events = PollWithin(watcher, TimeSpan.FromSeconds(20));
        var fifo = Assert.Single(events, e => e.GetString("file.name") == "a.pt");
        Assert.Equal(AgentActions.ArtifactUnscannable, fifo.Action);
        Assert.Equal("fifo", fifo.GetString("file.type"));
        Assert.Equal(75, fifo.GetInt64(EventFields.Severity));
        Assert.Contains("never opened", fifo.GetString("trainguard.checkpoint.reason"), StringComparison.Ordinal);
        // The files after it are still scanned.
        Assert.Equal("malicious", Assert.Single(events, e => e.GetString("file.name") == "z.pt").GetString("trainguard.scan.verdict"));
        Assert.Empty(PollWithin(watcher, TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public void A_checkpoint_replaced_by_a_symlink_to_a_fifo_or_to_another_link_is_an_event_and_nothing_is_opened()
    {
        using var dir = new TempDir();
        Mkfifo(dir.Combine("elsewhere", "pipe"));
        File.WriteAllText(dir.Write("elsewhere/real.pt", string.Empty), "x");
        File.CreateSymbolicLink(dir.Combine("elsewhere", "hop"), dir.Combine("elsewhere", "real.pt"));
        Directory.CreateDirectory(dir.Combine("runs", "ckpt"));
        File.CreateSymbolicLink(dir.Combine("runs", "ckpt", "to-fifo.pt"), dir.Combine("elsewhere", "pipe"));
        File.CreateSymbolicLink(dir.Combine("runs", "ckpt", "chain.pt"), dir.Combine("elsewhere", "hop"));
        File.CreateSymbolicLink(dir.Combine("runs", "ckpt", "dangling.pt"), dir.Combine("elsewhere", "missing.pt"));

        var events = PollWithin(Watcher(dir), TimeSpan.FromSeconds(20));
        Assert.Equal(3, events.Count);
        Assert.All(events, e =>
        {
            Assert.Equal(AgentActions.ArtifactUnscannable, e.Action);
            Assert.Equal("symlink", e.GetString("file.type"));
            Assert.True(e.GetBoolean("trainguard.checkpoint.link_outside_watched"));
        });
        Assert.Equal("fifo", Assert.Single(events, e => e.GetString("file.name") == "to-fifo.pt").GetString("trainguard.checkpoint.target_type"));
        Assert.Contains("not followed further", Assert.Single(events, e => e.GetString("file.name") == "chain.pt").GetString("trainguard.checkpoint.reason"), StringComparison.Ordinal);
        Assert.Contains("dangling", Assert.Single(events, e => e.GetString("file.name") == "dangling.pt").GetString("trainguard.checkpoint.reason"), StringComparison.Ordinal);
    }

    /// <summary>A clean <c>rng_state.pth</c> ten minutes old, already scanned once by the returned watcher.</summary>
    private static (string Path, DateTime Mtime, CheckpointWatcher Watcher) WatchPlainCheckpoint(TempDir dir)
    {
        var path = dir.Write("runs/checkpoint-500/rng_state.pth", string.Empty);
        File.WriteAllBytes(path, PlainString);
        var mtime = DateTime.UtcNow.AddMinutes(-10);
        File.SetLastWriteTimeUtc(path, mtime);
        var watcher = Watcher(dir);
        Assert.Equal("clean", Assert.Single(watcher.Poll(Later)).GetString("trainguard.scan.verdict"));
        return (path, mtime, watcher);
    }

    [Fact]
    public void A_checkpoint_swapped_for_another_file_of_the_same_size_and_time_is_a_replaced_event()
    {
        using var dir = new TempDir();
        var (path, mtime, watcher) = WatchPlainCheckpoint(dir);

        // Same name, same size, same modification time, another inode (written aside and renamed over).
        Assert.Equal(PlainString.Length, SystemCall.Length);
        var aside = dir.Combine("runs", "checkpoint-500", ".rng_state.pth.tmp");
        File.WriteAllBytes(aside, SystemCall);
        File.SetLastWriteTimeUtc(aside, mtime);
        File.Move(aside, path, overwrite: true);

        var e = Assert.Single(watcher.Poll(Later));
        Assert.Equal("replaced", e.GetString("trainguard.scan.change"));
        Assert.Contains("inode", e.GetStrings("trainguard.checkpoint.changed"));
        Assert.DoesNotContain("size", e.GetStrings("trainguard.checkpoint.changed"));
        Assert.Equal("malicious", e.GetString("trainguard.scan.verdict"));
        Assert.Equal("clean", e.GetString("trainguard.checkpoint.previous.verdict"));
    }

    [Fact]
    public void A_checkpoint_rewritten_in_place_with_its_time_set_back_is_a_changed_event()
    {
        using var dir = new TempDir();
        var (path, mtime, watcher) = WatchPlainCheckpoint(dir);

        Thread.Sleep(20);
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            stream.Write(SystemCall);
        }

        File.SetLastWriteTimeUtc(path, mtime);
        var e = Assert.Single(watcher.Poll(Later));
        Assert.Equal("changed", e.GetString("trainguard.scan.change"));
        Assert.Equal(["ctime"], e.GetStrings("trainguard.checkpoint.changed"));
        Assert.Equal("malicious", e.GetString("trainguard.scan.verdict"));
    }
}
