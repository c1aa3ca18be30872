using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace TrainGuard.Server.Notifications;

/// <summary>What a target receives.</summary>
public enum WebhookMode
{
    /// <summary>Standard Webhooks JSON (<c>type</c>, <c>timestamp</c>, <c>data</c>), signed.</summary>
    Standard = 1,

    /// <summary>A Slack incoming-webhook message (<c>text</c> and <c>blocks</c>); the URL itself is the secret.</summary>
    Slack = 2,
}

/// <summary>
/// A configured receiver as stored in <c>webhook_target</c>. It holds no secret: the delivery URL and the signing
/// secrets live in the target's secrets file (<see cref="WebhookSecretFile"/>); <see cref="DisplayUrl"/> is what may be
/// printed.
/// </summary>
public sealed record WebhookTarget(string Id, string Name, WebhookMode Mode, string DisplayUrl, bool Enabled, string? DisabledReason, DateTimeOffset CreatedAt)
{
    public const int MaxNameLength = 64;

    public static string ModeName(WebhookMode mode) => mode == WebhookMode.Slack ? "slack" : "standard";

    public static bool TryParseMode(string? text, out WebhookMode mode)
    {
        mode = text switch
        {
            "standard" => WebhookMode.Standard,
            "slack" => WebhookMode.Slack,
            _ => 0,
        };
        return mode != 0;
    }

    /// <summary>A fresh target id (<c>wh_</c> + 16 hex digits): names the secrets file, never shown as a secret.</summary>
    public static string NewId() => "wh_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));

    /// <summary>Names are lowercase letters, digits, <c>.</c>, <c>_</c> and <c>-</c>, starting with a letter or digit.</summary>
    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= MaxNameLength && (char.IsAsciiLetterLower(name[0]) || char.IsAsciiDigit(name[0]))
        && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '_' or '-');

    /// <summary>
    /// Checks a delivery URL: absolute http or https, no user name or password in it, and plain http only to this
    /// machine unless <paramref name="allowInsecureHttp"/> (alerts name accounts and hosts; they travel encrypted).
    /// </summary>
    public static bool TryParseUrl(string text, bool allowInsecureHttp, [NotNullWhen(true)] out Uri? url, [NotNullWhen(false)] out string? error)
    {
        url = null;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var parsed) || (parsed.Scheme != Uri.UriSchemeHttps && parsed.Scheme != Uri.UriSchemeHttp) || parsed.Host.Length == 0)
        {
            error = "--url must be an absolute http:// or https:// URL";
            return false;
        }

        if (parsed.UserInfo.Length > 0)
        {
            error = "--url must not hold a user name or password";
            return false;
        }

        if (parsed.Scheme == Uri.UriSchemeHttp && !allowInsecureHttp && !IsLoopback(parsed))
        {
            error = $"--url: plain http to {parsed.Host} would send alerts unencrypted; use https, or pass --allow-insecure-http";
            return false;
        }

        url = parsed;
        error = null;
        return true;
    }

    /// <summary>
    /// What listings and logs show of a URL: scheme, host and port, and for a standard target the path (never the
    /// query). A Slack URL's path is its secret, so it shows as <c>/…</c>.
    /// </summary>
    public static string Display(Uri url, WebhookMode mode)
    {
        var origin = url.GetLeftPart(UriPartial.Authority);
        return mode == WebhookMode.Slack
            ? origin + (url.AbsolutePath.Length > 1 ? "/…" : "/")
            : origin + url.AbsolutePath + (url.Query.Length > 0 ? "?…" : string.Empty);
    }

    private static bool IsLoopback(Uri url) =>
        url.IsLoopback || (IPAddress.TryParse(url.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
}
