using System.Diagnostics;
using TrainGuard.Agent.Shipping;
using TrainGuard.Agent.Spool;
using TrainGuard.Events;
using TrainGuard.Ledger.Client;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests.Tls;

/// <summary>The agent's side of attack 5: its shipper and a real agent process against a real loopback TLS server.</summary>
public sealed class AgentTlsTests
{
    private static readonly (string, string, string) Names = ("server.ca", "server.client_cert", "server.client_key");

    [Fact]
    public async Task The_agent_ships_over_https_to_a_server_of_the_pinned_CA()
    {
        using var pki = new TestPki();
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => pki.Https(o, pki.Server));
        using var spool = EventSpool.Open(Path.Combine(pki.Directory, "spool"));
        spool.Append([.. Enumerable.Range(0, 5).Select(n => EventRecord.FromObject(ServerHarness.Event(n)))]);
        using var shipper = new EventShipper(spool, Options(h, ClientTls.Load(pki.Ca.CaFile, null, null, Names)));

        Assert.Equal(ShipOutcome.Sent, await shipper.ShipOnceAsync());

        Assert.Equal(5, spool.AckedSeq);
        Assert.Equal(5, h.Server.Log.Size);
    }

    [Fact]
    public async Task A_server_with_another_CA_is_refused_and_the_agent_keeps_its_events()
    {
        using var pki = new TestPki();
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => pki.Https(o, pki.Impostor));
        using var spool = EventSpool.Open(Path.Combine(pki.Directory, "spool"));
        spool.Append([.. Enumerable.Range(0, 3).Select(n => EventRecord.FromObject(ServerHarness.Event(n)))]);
        using var shipper = new EventShipper(spool, Options(h, ClientTls.Load(pki.Ca.CaFile, null, null, Names)));

        Assert.Equal(ShipOutcome.RetryLater, await shipper.ShipOnceAsync());

        Assert.Equal(0, spool.AckedSeq);
        Assert.Equal(3, spool.Pending);
        Assert.Contains("certificate was refused", shipper.Stats.LastError, StringComparison.Ordinal);
        Assert.Equal(0, h.Server.Log.Size);
    }

    [Fact]
    public async Task A_real_agent_process_ships_over_https_with_server_ca_and_a_client_certificate()
    {
        using var pki = new TestPki();
        var nodes = pki.ClientCa;
        var node = nodes.IssueClient("gpu-node-17", "gpu-node-17");
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => pki.Https(o, pki.Server, nodes.CaFile));
        var token = Path.Combine(pki.Directory, "agent.token");
        TestCertificateAuthority.WritePrivate(token, await h.NewTokenAsync(Role.Agent) + "\n");
        var root = Directory.CreateDirectory(Path.Combine(pki.Directory, "root")).FullName;
        var config = Path.Combine(pki.Directory, "agent.yaml");
        await File.WriteAllTextAsync(config, $"""
            server:
              url: {h.Server.BaseAddress}
              token_file: {token}
              ca: {pki.Ca.CaFile}
              client_cert: {node.Certificate}
              client_key: {node.Key}
            host_name: gpu-node-17
            spool_dir: {Path.Combine(pki.Directory, "spool")}
            state_dir: {Path.Combine(pki.Directory, "state")}
            snapshot_root: {root}
            audit:
              log: ~
            auth_log: ~
            """);

        using var agent = StartAgent(config);
        var shipped = await WaitAsync(() => h.Server.Log.Size > 0, TimeSpan.FromSeconds(60));
        agent.Kill(entireProcessTree: true);
        await agent.WaitForExitAsync();

        Assert.True(shipped, "the agent shipped nothing over https: " + await agent.StandardError.ReadToEndAsync());
        var first = System.Text.Encoding.UTF8.GetString((await h.Server.Store.Ledger.GetEntryAsync(0))!);
        Assert.Contains("\"gpu-node-17\"", first, StringComparison.Ordinal);
    }

    private static ShipperOptions Options(ServerHarness h, ClientTls tls) => new()
    {
        ServerUrl = h.Server.BaseAddress,
        Token = h.AgentToken,
        Tls = tls,
        BackoffBase = TimeSpan.FromMilliseconds(10),
        BackoffMax = TimeSpan.FromMilliseconds(50),
        RequestTimeout = TimeSpan.FromSeconds(10),
    };

    private static Process StartAgent(string config)
    {
        var host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path).Equals("dotnet", StringComparison.OrdinalIgnoreCase) ? path : "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { TestPaths.CliAssembly, "agent", "run", "--config", config })
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start) ?? throw new InvalidOperationException("could not start the agent");
    }

    private static async Task<bool> WaitAsync(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
            {
                return false;
            }

            await Task.Delay(100);
        }

        return true;
    }
}
