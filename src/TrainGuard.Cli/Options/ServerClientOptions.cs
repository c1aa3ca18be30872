using System.CommandLine;

namespace TrainGuard.Cli.Options;

/// <summary>
/// How a verb reaches the TrainGuard server: <c>--server URL</c>, <c>--token TOKEN</c> or <c>--token-file FILE</c>
/// (default <c>$TRAINGUARD_TOKEN</c>), <c>--timeout SECONDS</c>. The same four names on every verb that talks to it.
/// </summary>
public sealed class ServerClientOptions
{
    private readonly bool _withToken;

    /// <param name="required">Whether <c>--server</c> must be given.</param>
    /// <param name="purpose">What the verb does with the server (the second sentence of <c>--server</c>'s help).</param>
    /// <param name="withToken">False for verbs that only read the public log (no <c>--token</c>).</param>
    public ServerClientOptions(bool required, string purpose, bool withToken = true)
    {
        _withToken = withToken;
        Server = new Option<string?>("--server")
        {
            HelpName = "URL",
            Description = $"Base URL of the TrainGuard server, e.g. http://127.0.0.1:8470. {purpose}",
            Required = required,
        };
    }

    public Option<string?> Server { get; }

    public Option<string?> Token { get; } = new("--token")
    {
        HelpName = "TOKEN",
        Description = $"API token for --server (from 'trainguard server token new'). Default: ${CommonOptions.TokenVariable}, which keeps it out of the process list; or use --token-file.",
    };

    public Option<FileInfo?> TokenFile { get; } = new("--token-file")
    {
        HelpName = "FILE",
        Description = "A file whose first line is the API token for --server.",
    };

    public Option<int> Timeout { get; } = new Option<int>("--timeout")
    {
        HelpName = "SECONDS",
        Description = "Seconds allowed for each request to the server.",
        DefaultValueFactory = _ => 30,
    }.AtLeast(1, "--timeout must be at least 1 second");

    public void AddTo(Command command)
    {
        command.AddOptions(Server);
        if (_withToken)
        {
            command.AddOptions(Token, TokenFile);
        }

        command.AddOptions(Timeout);
    }

    /// <summary>The server's URL, or null when <c>--server</c> was not given.</summary>
    public Uri? Url(ParseResult parse) =>
        parse.GetValue(Server) is { } url ? InputValidation.HttpUrl(url, "--server") : null;

    /// <summary>The token from <c>--token</c>, <c>--token-file</c> or the environment, or null.</summary>
    public string? ResolveToken(ParseResult parse)
    {
        var inline = parse.GetValue(Token);
        var file = parse.GetValue(TokenFile);
        if (inline is not null && file is not null)
        {
            throw new CliException("give --token or --token-file, not both");
        }

        if (file is not null)
        {
            var path = InputValidation.ExistingFile(file, "--token-file")!;
            var first = File.ReadLines(path).FirstOrDefault()?.Trim();
            return string.IsNullOrEmpty(first) ? throw new CliException($"--token-file: {path} is empty; its first line must be the token") : first;
        }

        var token = inline ?? Environment.GetEnvironmentVariable(CommonOptions.TokenVariable);
        return string.IsNullOrWhiteSpace(token) ? null : token.Trim();
    }

    public TimeSpan RequestTimeout(ParseResult parse) => TimeSpan.FromSeconds(parse.GetValue(Timeout));
}
