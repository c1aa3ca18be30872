using Microsoft.Extensions.Logging;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Hosting;

namespace TrainGuard.Cli.Tests;

/// <summary>
/// A real TrainGuard server on 127.0.0.1 (port 0, SQLite in a temporary folder) with one token per role, each also in
/// a file: agent tokens bound to <c>vm</c> and <c>gpu-node-2</c> (the nodes of samples/incident), reader, responder
/// and admin. <see cref="ShipIncidentAsync"/> sends the recorded incident with <c>trainguard agent ship</c>.
/// </summary>
internal sealed class IncidentServer : IAsyncDisposable
{
    private IncidentServer(TrainGuardServer server, string directory)
    {
        Server = server;
        Directory = directory;
    }

    public TrainGuardServer Server { get; }

    public string Directory { get; }

    public string Url => Server.BaseAddress.ToString();

    /// <summary>Token files by name: <c>vm</c>, <c>gpu-node-2</c>, <c>reader</c>, <c>responder</c>, <c>admin</c>.</summary>
    public Dictionary<string, string> TokenFiles { get; } = new(StringComparer.Ordinal);

    public static string Incident(string file) => CliRunner.Repo("samples", "incident", file);

    /// <param name="withResponder">False for tests that need no responder token (shipping only).</param>
    public static async Task<IncidentServer> StartAsync(bool withResponder = true)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("tg-cli-alerts-").FullName;
        var server = await TrainGuardServer.StartAsync(new ServerOptions
        {
            DataDirectory = directory,
            Database = "sqlite:" + Path.Combine(directory, "trainguard.db"),
            Urls = ["http://127.0.0.1:0"],
            Origin = "test.trainguard/alerts",
            LogLevel = LogLevel.Warning,
            LogFormat = LogFormat.Text,
        });
        var env = new IncidentServer(server, directory);
        try
        {
            await env.AddTokenAsync("vm", "agent", "vm");
            await env.AddTokenAsync("gpu-node-2", "agent", "gpu-node-2");
            await env.AddTokenAsync("reader", "reader", null);
            await env.AddTokenAsync("admin", "admin", null);
            if (withResponder)
            {
                await env.AddTokenAsync("responder", "responder", null);
            }

            return env;
        }
        catch
        {
            await env.DisposeAsync();
            throw;
        }
    }

    /// <summary>The server options every alerts command takes, with the named token's file.</summary>
    public string[] With(string token) => ["--server", Url, "--token-file", TokenFiles[token]];

    /// <summary>Ships samples/incident (both nodes, each with its own agent token; each run must exit 0), then waits for the alerts.</summary>
    public async Task ShipIncidentAsync()
    {
        foreach (var node in new[] { "vm", "gpu-node-2" })
        {
            var (code, stdout, stderr) = await CliRunner.RunAsync(["agent", "ship", Incident(node + ".jsonl"), "--host", node, .. With(node)]);
            Assert.True(code == 0, $"agent ship {node}: exit {code}\n{stdout}\n{stderr}");
        }

        await AlertsDerivedAsync();
    }

    /// <summary>Waits until the server's alert derivation has read every ledger entry (it runs after each append).</summary>
    public async Task AlertsDerivedAsync()
    {
        var deriver = Server.Deriver ?? throw new InvalidOperationException("the server derives no alerts");
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30);
        while (deriver.Cursor < Server.Log.Size)
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, $"alert derivation stopped at ledger index {deriver.Cursor} of {Server.Log.Size} ({deriver.Failures} failed rounds)");
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task AddTokenAsync(string name, string role, string? identity)
    {
        // The role by its wire name, as 'server token create --role' takes it.
        Assert.True(Roles.TryParse(role, out var parsed), $"the server has no role '{role}'");
        var token = ApiTokens.NewToken();
        await Server.Store.AddTokenAsync(ApiTokens.Hash(token), new TrainGuard.Server.Storage.TokenGrant(parsed, identity, "test"), CancellationToken.None);
        var file = Path.Combine(Directory, name + ".token");
        await File.WriteAllTextAsync(file, token + "\n");
        TokenFiles[name] = file;
    }
}
