using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace TrainGuard.Server.Notifications;

/// <summary>
/// A Standard Webhooks 1.0 symmetric signing secret: 24 to 64 random bytes, written <c>whsec_</c> + base64. Its text
/// never goes into a log line, an error message or a listing; only <see cref="Format"/> shows it, once, to the admin
/// who created it.
/// </summary>
public sealed class WebhookSecret
{
    public const string Prefix = "whsec_";

    /// <summary>The spec's lower bound (192 bits).</summary>
    public const int MinBytes = 24;

    /// <summary>The spec's upper bound (512 bits).</summary>
    public const int MaxBytes = 64;

    /// <summary>What <see cref="Generate"/> makes.</summary>
    public const int GeneratedBytes = 32;

    private readonly byte[] _key;

    private WebhookSecret(byte[] key) => _key = key;

    /// <summary>The HMAC key.</summary>
    public ReadOnlySpan<byte> Key => _key;

    /// <summary>A fresh random secret.</summary>
    public static WebhookSecret Generate() => new(RandomNumberGenerator.GetBytes(GeneratedBytes));

    /// <summary>
    /// Reads <c>whsec_&lt;base64&gt;</c> (the prefix may be omitted, as the reference libraries allow). The error says
    /// what is wrong without repeating the text.
    /// </summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out WebhookSecret? secret, [NotNullWhen(false)] out string? error)
    {
        secret = null;
        var body = text?.Trim() ?? string.Empty;
        if (body.StartsWith(Prefix, StringComparison.Ordinal))
        {
            body = body[Prefix.Length..];
        }

        if (body.Length == 0)
        {
            error = "the secret is empty (expected whsec_ followed by base64)";
            return false;
        }

        var buffer = new byte[(body.Length * 3 / 4) + 3];
        if (!Convert.TryFromBase64String(body, buffer, out var length))
        {
            error = "the secret is not whsec_ followed by standard base64";
            return false;
        }

        if (length is < MinBytes or > MaxBytes)
        {
            error = $"the secret holds {length} bytes; Standard Webhooks needs {MinBytes} to {MaxBytes}";
            return false;
        }

        secret = new WebhookSecret(buffer[..length]);
        error = null;
        return true;
    }

    /// <summary><c>whsec_&lt;base64&gt;</c>: for the secrets file and the one-time display after creation only.</summary>
    public string Format() => Prefix + Convert.ToBase64String(_key);

    /// <summary>Never the secret.</summary>
    public override string ToString() => "whsec_(hidden)";
}
