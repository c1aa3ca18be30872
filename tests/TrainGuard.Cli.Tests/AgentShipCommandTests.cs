using System.Text.Json.Nodes;
using TrainGuard.Events;

namespace TrainGuard.Cli.Tests;

/// <summary>
/// <c>trainguard agent ship</c> against a real server: saved events go through the agent's spool and shipper, the
/// server's refusals come back with their reason, and bad files or tokens are errors that say what to do.
/// </summary>
public sealed class AgentShipCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tg-cli-ship-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task The_recorded_incident_is_delivered_and_a_second_shipment_is_harmless()
    {
        await using var env = await IncidentServer.StartAsync(withResponder: false);

        var (code, stdout, stderr) = await CliRunner.RunAsync(["agent", "ship", IncidentServer.Incident("vm.jsonl"), "--host", "vm", .. env.With("vm")]);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("69 events", stdout, StringComparison.Ordinal);
        Assert.Contains("69 delivered", stdout, StringComparison.Ordinal);
        Assert.Equal(69, env.Server.Log.Size);

        // The node file carries events without host.name: --host fills them in, as the agent fills in its own.
        var (nodeCode, nodeOut, nodeErr) = await CliRunner.RunAsync(["agent", "ship", IncidentServer.Incident("gpu-node-2.jsonl"), "--host", "gpu-node-2", "-f", "json", .. env.With("gpu-node-2")]);
        Assert.True(nodeCode == 0, nodeOut + nodeErr);
        var json = JsonNode.Parse(nodeOut)!;
        Assert.Equal("agent ship", json["command"]!.GetValue<string>());
        Assert.Equal(0, json["exit_code"]!.GetValue<int>());
        Assert.Equal(json["events"]!.GetValue<int>(), json["delivered"]!.GetValue<long>());
        Assert.Empty(json["refused"]!.AsArray());
        var size = env.Server.Log.Size;

        var (again, againOut, againErr) = await CliRunner.RunAsync(["agent", "ship", IncidentServer.Incident("vm.jsonl"), "--host", "vm", .. env.With("vm")]);
        Assert.True(again == 0, againOut + againErr);
        Assert.Equal(size, env.Server.Log.Size);
    }

    [Fact]
    public async Task Events_of_another_node_are_refused_with_the_servers_reason_and_exit_1()
    {
        await using var env = await IncidentServer.StartAsync(withResponder: false);
        var mixed = Path.Combine(_dir, "mixed.jsonl");
        var lines = File.ReadLines(IncidentServer.Incident("vm.jsonl")).Take(3).ToList();
        var foreign = EventRecord.Parse(lines[2]);
        foreign.Id = "01a24e0e-0000-7000-8000-000000000001";
        foreign.Set(EventFields.HostName, "gpu-node-9");
        await File.WriteAllLinesAsync(mixed, [lines[0], lines[1], foreign.ToJsonLine()]);

        var (code, stdout, stderr) = await CliRunner.RunAsync(["agent", "ship", mixed, .. env.With("vm")]);

        Assert.True(code == 1, stdout + stderr);
        Assert.Contains("2 delivered", stdout, StringComparison.Ordinal);
        Assert.Contains("1 refused", stdout, StringComparison.Ordinal);
        Assert.Contains($"refused {foreign.Id}", stdout, StringComparison.Ordinal);
        Assert.Contains("mixed.jsonl:3", stdout, StringComparison.Ordinal);
        Assert.Contains("bound to host 'vm'", stdout, StringComparison.Ordinal);
        Assert.Equal(2, env.Server.Log.Size);
    }

    [Fact]
    public async Task A_malformed_line_is_an_error_naming_file_and_line_and_nothing_is_sent()
    {
        await using var env = await IncidentServer.StartAsync(withResponder: false);
        var file = Path.Combine(_dir, "broken.jsonl");
        var first = File.ReadLines(IncidentServer.Incident("vm.jsonl")).First();
        await File.WriteAllTextAsync(file, first + "\n\n{\"id\": \"x\", \"event\": \n");

        var (code, stdout, stderr) = await CliRunner.RunAsync(["agent", "ship", file, .. env.With("vm")]);

        Assert.Equal(2, code);
        Assert.Contains("broken.jsonl:3", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("delivered", stdout, StringComparison.Ordinal);
        Assert.Equal(0, env.Server.Log.Size);
    }

    [Fact]
    public async Task A_file_that_is_not_events_is_an_error()
    {
        await using var env = await IncidentServer.StartAsync(withResponder: false);
        var file = Path.Combine(_dir, "other.jsonl");
        await File.WriteAllTextAsync(file, "{\"name\": \"not an event\"}\n");
        var empty = Path.Combine(_dir, "empty.jsonl");
        await File.WriteAllTextAsync(empty, "\n");

        var (code, _, stderr) = await CliRunner.RunAsync(["agent", "ship", file, .. env.With("vm")]);
        var (emptyCode, _, emptyErr) = await CliRunner.RunAsync(["agent", "ship", empty, .. env.With("vm")]);
        var (missingCode, _, missingErr) = await CliRunner.RunAsync(["agent", "ship", Path.Combine(_dir, "absent.jsonl"), .. env.With("vm")]);

        Assert.Equal(2, code);
        Assert.Contains("other.jsonl:1", stderr, StringComparison.Ordinal);
        Assert.Contains("event.action", stderr, StringComparison.Ordinal);
        Assert.Equal(2, emptyCode);
        Assert.Contains("holds no event", emptyErr, StringComparison.Ordinal);
        Assert.Equal(2, missingCode);
        Assert.Contains("absent.jsonl", missingErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_that_may_not_append_is_an_error_that_names_the_token_needed()
    {
        await using var env = await IncidentServer.StartAsync(withResponder: false);

        var (code, stdout, stderr) = await CliRunner.RunAsync(["agent", "ship", IncidentServer.Incident("vm.jsonl"), "--host", "vm", .. env.With("reader")]);

        Assert.True(code == 2, stdout + stderr);
        Assert.Contains("403", stderr, StringComparison.Ordinal);
        Assert.Contains("--role agent --host", stderr, StringComparison.Ordinal);
        Assert.Equal(0, env.Server.Log.Size);
    }
}
