using System.Runtime.Versioning;
using TrainGuard.Server.Notifications;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests.Notifications;

/// <summary><c>trainguard server webhook ...</c>: admins configure targets; secrets are shown once and nowhere else.</summary>
public sealed class WebhookCommandTests : IDisposable
{
    private const string SlackPathSecret = "B0001/SlackPathSecretXyz";
    private readonly string _dir = TestPaths.NewTempDirectory();

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task Add_prints_the_secret_once_keeps_it_in_a_0600_file_and_list_never_shows_it()
    {
        var (code, stdout, stderr) = await Run("add", "--name", "soc", "--url", "https://soc.example.org/hooks/trainguard?key=abc");

        Assert.True(code == 0, stderr);
        var secretText = stdout.Trim();
        Assert.True(WebhookSecret.TryParse(secretText, out var secret, out _), stdout);
        Assert.Equal(WebhookSecret.GeneratedBytes, secret.Key.Length);
        var file = Assert.Single(Directory.GetFiles(Path.Combine(_dir, WebhookSecretFile.FolderName)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(file)!));
        Assert.Contains(secretText, await File.ReadAllTextAsync(file), StringComparison.Ordinal);

        var list = await Run("list");
        Assert.Equal(0, list.Code);
        Assert.Contains("soc  standard  https://soc.example.org/hooks/trainguard?…  0 waiting  enabled", list.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(secretText["whsec_".Length..], list.Stdout + list.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("key=abc", list.Stdout, StringComparison.Ordinal);
        await using var store = await OpenStoreAsync();
        Assert.DoesNotContain(secretText["whsec_".Length..], string.Join(' ', (await store.Webhooks.ListTargetsAsync()).Select(t => t.ToString())), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_slack_target_prints_no_secret_and_its_url_path_is_hidden_from_the_list()
    {
        var (code, stdout, stderr) = await Run("add", "--name", "oncall", "--mode", "slack", "--url", "https://hooks.slack.com/services/T0001/" + SlackPathSecret);

        Assert.True(code == 0, stderr);
        Assert.Equal("added webhook target 'oncall' (slack) to https://hooks.slack.com/…", stdout.Trim());
        var list = await Run("list");
        Assert.Contains("oncall  slack     https://hooks.slack.com/…", list.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("SlackPathSecret", list.Stdout + stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Remove_deletes_the_target_and_its_secrets_file_and_a_second_remove_is_an_error()
    {
        Assert.Equal(0, (await Run("add", "--name", "soc", "--url", "https://soc.example.org/hook")).Code);

        var removed = await Run("remove", "--name", "soc");
        Assert.Equal((0, "removed webhook target 'soc'"), (removed.Code, removed.Stdout.Trim()));
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, WebhookSecretFile.FolderName)));
        Assert.Equal(string.Empty, (await Run("list")).Stdout);

        var again = await Run("remove", "--name", "soc");
        Assert.Equal(2, again.Code);
        Assert.Contains("no webhook target named 'soc'", again.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Bad Name", "https://soc.example.org/hook", "--name must be")]
    [InlineData("soc", "ftp://soc.example.org/hook", "--url must be an absolute http")]
    [InlineData("soc", "soc.example.org/hook", "--url must be an absolute http")]
    [InlineData("soc", "http://soc.example.org/hook", "--allow-insecure-http")]
    [InlineData("soc", "https://user:hunter2@soc.example.org/hook", "user name or password")]
    public async Task Add_refuses_a_bad_name_or_url_with_exit_2_and_stores_nothing(string name, string url, string message)
    {
        var (code, stdout, stderr) = await Run("add", "--name", name, "--url", url);

        Assert.Equal(2, code);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, stdout);
        Assert.False(Directory.Exists(Path.Combine(_dir, WebhookSecretFile.FolderName)) && Directory.GetFiles(Path.Combine(_dir, WebhookSecretFile.FolderName)).Length > 0);
        Assert.DoesNotContain("hunter2", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plain_http_is_allowed_to_this_machine_and_elsewhere_only_when_asked()
    {
        Assert.Equal(0, (await Run("add", "--name", "local", "--url", "http://127.0.0.1:9/hook")).Code);
        Assert.Equal(0, (await Run("add", "--name", "lan", "--url", "http://soc.internal/hook", "--allow-insecure-http")).Code);
    }

    [Fact]
    public async Task A_second_target_with_the_same_name_is_refused()
    {
        Assert.Equal(0, (await Run("add", "--name", "soc", "--url", "https://a.example.org/hook")).Code);

        var (code, _, stderr) = await Run("add", "--name", "soc", "--url", "https://b.example.org/hook");

        Assert.Equal(2, code);
        Assert.Contains("a webhook target named 'soc' exists already", stderr, StringComparison.Ordinal);
        Assert.Single(Directory.GetFiles(Path.Combine(_dir, WebhookSecretFile.FolderName)));
    }

    [Fact]
    public async Task Rotate_prints_a_new_secret_and_drop_previous_keeps_only_it()
    {
        var first = (await Run("add", "--name", "soc", "--url", "https://soc.example.org/hook")).Stdout.Trim();
        var file = Directory.GetFiles(Path.Combine(_dir, WebhookSecretFile.FolderName))[0];

        var rotated = await Run("rotate", "--name", "soc");
        var second = rotated.Stdout.Trim();
        Assert.Equal(0, rotated.Code);
        Assert.StartsWith("whsec_", second, StringComparison.Ordinal);
        Assert.NotEqual(first, second);
        var text = await File.ReadAllTextAsync(file);
        Assert.True(text.IndexOf(second, StringComparison.Ordinal) < text.IndexOf(first, StringComparison.Ordinal), "the new secret signs first");

        Assert.Equal(0, (await Run("rotate", "--name", "soc", "--drop-previous")).Code);
        text = await File.ReadAllTextAsync(file);
        Assert.Contains(second, text, StringComparison.Ordinal);
        Assert.DoesNotContain(first, text, StringComparison.Ordinal);

        Assert.Equal(2, (await Run("rotate", "--name", "nobody")).Code);
    }

    [Fact]
    public async Task Test_and_deliveries_of_a_target_that_does_not_exist_are_errors()
    {
        Assert.Equal(0, (await Run("add", "--name", "soc", "--url", "https://soc.example.org/hook")).Code);

        var test = await Run("test", "--name", "nobody");
        var deliveries = await Run("deliveries", "--target", "nobody");

        Assert.Equal(2, test.Code);
        Assert.Contains("no webhook target named 'nobody'", test.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, deliveries.Code);
        Assert.Contains("no webhook target named 'nobody'", deliveries.Stderr, StringComparison.Ordinal);
        var none = await Run("deliveries", "--target", "soc");
        Assert.Equal((0, string.Empty), (none.Code, none.Stdout));
    }

    [Fact]
    public async Task List_of_a_data_directory_without_a_database_is_an_error()
    {
        var (code, _, stderr) = await Run("list");

        Assert.Equal(2, code);
        Assert.Contains("no database at", stderr, StringComparison.Ordinal);
    }

    /// <summary>
    /// The whole path as an admin runs it: a server process, targets added and tested with the CLI on its database, a
    /// Slack receiver that fails once; the messages arrive signed, the log names every attempt, and neither the server
    /// log (at trace level) nor any listing holds a signing secret or the Slack URL's path.
    /// </summary>
    [Fact]
    public async Task A_running_server_delivers_cli_test_messages_and_its_log_holds_no_secret()
    {
        await using var soc = await LoopbackReceiver.StartAsync();
        await using var slack = await LoopbackReceiver.StartAsync(LoopbackReceiver.Script(500, 200));
        var database = "sqlite:" + Path.Combine(_dir, "trainguard.db");
        using var server = await ServerProcess.StartAsync(_dir, database, "--log-level", "trace");

        var secret = (await Run("add", "--name", "soc", "--url", soc.Url)).Stdout.Trim();
        var slackUrl = slack.Url.Replace("/hooks/trainguard", "/services/T0001/" + SlackPathSecret, StringComparison.Ordinal);
        Assert.Equal(0, (await Run("add", "--name", "oncall", "--mode", "slack", "--url", slackUrl)).Code);
        var queued = await Run("test", "--name", "soc");
        Assert.Equal(0, (await Run("test", "--name", "oncall")).Code);

        var received = Assert.Single(await soc.WaitForAsync(1));
        Assert.True(WebhookSecret.TryParse(secret, out var key, out _));
        Assert.Equal(WebhookVerification.Valid, received.Verify(key));
        Assert.Equal($"queued {received.Id} for 'soc'", queued.Stdout.Trim());
        Assert.Equal("webhook.test", (string?)Webhooks.Json(received)["type"]);
        var slackMessages = await slack.WaitForAsync(2, TimeSpan.FromSeconds(60));
        Assert.All(slackMessages, m => Assert.Null(m.Signature));
        Assert.Contains("'oncall' receives alert notifications", (string?)Webhooks.Json(slackMessages[1])["text"], StringComparison.Ordinal);

        var deliveries = await WaitForDeliveriesAsync(3);
        Assert.Contains($"soc  {received.Id}  webhook.test  #1  delivered  200", deliveries, StringComparison.Ordinal);
        Assert.Contains("  webhook.test  #1  retrying  500  ", deliveries, StringComparison.Ordinal);
        Assert.Contains("HTTP 500: receiver says no", deliveries, StringComparison.Ordinal);
        Assert.Contains("  webhook.test  #2  delivered  200", deliveries, StringComparison.Ordinal);

        var listed = await Run("list");
        await server.KillAsync();
        var everything = server.Errors + listed.Stdout + listed.Stderr + deliveries;
        Assert.Contains("delivered to oncall", server.Errors, StringComparison.Ordinal);
        Assert.Contains("to oncall failed on attempt 1: HTTP 500", server.Errors, StringComparison.Ordinal);
        Assert.DoesNotContain(secret["whsec_".Length..], everything, StringComparison.Ordinal);
        Assert.DoesNotContain("SlackPathSecret", everything, StringComparison.Ordinal);
    }

    private async Task<string> WaitForDeliveriesAsync(int lines)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        while (true)
        {
            var (code, stdout, stderr) = await Run("deliveries");
            Assert.True(code == 0, stderr);
            if (stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length >= lines || DateTimeOffset.UtcNow > deadline)
            {
                return stdout;
            }

            await Task.Delay(100);
        }
    }

    private async Task<OpenedStore> OpenStoreAsync()
    {
        var store = await Storage.ServerStores.OpenAsync("sqlite:" + Path.Combine(_dir, "trainguard.db"));
        return new OpenedStore(store, await WebhookStore.OpenAsync(store));
    }

    private Task<(int Code, string Stdout, string Stderr)> Run(params string[] args) =>
        CliRunner.RunAsync(["server", "webhook", .. args, "--data-dir", _dir]);

    private sealed record OpenedStore(Storage.IServerStore Store, WebhookStore Webhooks) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Store.DisposeAsync();
    }
}
