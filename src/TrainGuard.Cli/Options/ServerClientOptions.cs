using System.CommandLine;
using TrainGuard.Ledger.Client;
using TrainGuard.Parsing;

namespace TrainGuard.Cli.Options;

/// <summary>
/// How a verb reaches the TrainGuard server: <c>--server URL</c>, <c>--token TOKEN</c> or <c>--token-file FILE</c>
/// (default <c>$TRAINGUARD_TOKEN</c>), <c>--timeout SECONDS</c>, and for TLS <c>--ca FILE</c> (default
/// <c>$TRAINGUARD_CA</c>), <c>--client-cert FILE</c>, <c>--client-key FILE</c>. The same names on every verb that
/// talks to it. Plain <c>http://</c> is accepted only to this machine.
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
            Description = $"Base URL of the TrainGuard server, e.g. https://tg.example.org:8443 (plain http:// only to 127.0.0.1, ::1 or localhost). {purpose}",
            Required = required,
        };
    }

    public Option<string?> Server { get; }

    public Option<string?> Token { get; } = new("--token")
    {
        HelpName = "TOKEN",
        Description = $"API token for --server (from 'trainguard server token create'). Default: ${CommonOptions.TokenVariable}, which keeps it out of the process list; or use --token-file.",
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

    /// <summary>The environment variable <c>--ca</c> defaults to.</summary>
    public const string CaVariable = "TRAINGUARD_CA";

    public Option<FileInfo?> Ca { get; } = new("--ca")
    {
        HelpName = "FILE",
        Description = $"PEM CA certificate the server's certificate must chain to; the system's roots are then not consulted (pinning a private CA). Default: ${CaVariable}.",
    };

    public Option<FileInfo?> ClientCertificate { get; } = new("--client-cert")
    {
        HelpName = "FILE",
        Description = "PEM client certificate (then intermediates) for a server run with --client-ca; needs --client-key.",
    };

    public Option<FileInfo?> ClientKey { get; } = new("--client-key")
    {
        HelpName = "FILE",
        Description = "PEM private key of --client-cert (unencrypted, mode 0600).",
    };

    public void AddTo(Command command)
    {
        command.AddOptions(Server);
        if (_withToken)
        {
            command.AddOptions(Token, TokenFile);
        }

        command.AddOptions(Timeout, Ca, ClientCertificate, ClientKey);
    }

    /// <summary>The server's URL, or null when <c>--server</c> was not given; plain http to another machine is an error saying what to use.</summary>
    public Uri? Url(ParseResult parse)
    {
        if (parse.GetValue(Server) is not { } text)
        {
            return null;
        }

        var url = InputValidation.HttpUrl(text, "--server");
        return ClientTls.InsecureReason(url) is { } insecure
            ? throw new CliException($"--server: {insecure}; pin the server's CA with --ca FILE")
            : url;
    }

    /// <summary>The CA file from <c>--ca</c> or <c>$TRAINGUARD_CA</c>, or null.</summary>
    public string? CaFile(ParseResult parse) =>
        parse.GetValue(Ca)?.FullName ?? (Environment.GetEnvironmentVariable(CaVariable) is { Length: > 0 } env ? Path.GetFullPath(env) : null);

    /// <summary>The pinned CA and client certificate, read and checked (<see cref="ClientTls.Load"/>).</summary>
    public ClientTls Tls(ParseResult parse)
    {
        var ca = CaFile(parse);
        try
        {
            return ClientTls.Load(
                ca,
                parse.GetValue(ClientCertificate)?.FullName,
                parse.GetValue(ClientKey)?.FullName,
                (parse.GetValue(Ca) is null && ca is not null ? "$" + CaVariable : "--ca", "--client-cert", "--client-key"));
        }
        catch (MalformedInputException ex)
        {
            throw new CliException(ex.Message, ex);
        }
    }

    /// <summary>A client of <c>--server</c> with the token (on verbs that take one), timeout and TLS settings given; null without <c>--server</c>.</summary>
    public TrainGuardApiClient? CreateClient(ParseResult parse) =>
        Url(parse) is { } url ? new TrainGuardApiClient(url, _withToken ? ResolveToken(parse) : null, RequestTimeout(parse), tls: Tls(parse)) : null;

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
