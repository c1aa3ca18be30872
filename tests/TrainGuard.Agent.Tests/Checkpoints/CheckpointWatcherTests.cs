using TrainGuard.Agent.Checkpoints;
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
}
