using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace TrainGuard.Server.Notifications;

/// <summary>What <see cref="StandardWebhook.Verify"/> concluded.</summary>
public enum WebhookVerification
{
    /// <summary>One of the <c>v1</c> signatures matches one of the secrets and the timestamp is within tolerance.</summary>
    Valid,

    /// <summary><c>webhook-id</c> is missing, empty, or holds a full stop or a control character.</summary>
    BadId,

    /// <summary><c>webhook-timestamp</c> is missing or not an integer number of seconds.</summary>
    BadTimestamp,

    /// <summary>The timestamp is further from now than the tolerance (a replay, or a clock far off).</summary>
    TimestampOutOfTolerance,

    /// <summary><c>webhook-signature</c> is missing or holds no <c>v1,&lt;base64&gt;</c> entry.</summary>
    NoSignature,

    /// <summary>No <c>v1</c> signature matches any secret.</summary>
    SignatureMismatch,
}

/// <summary>
/// Standard Webhooks 1.0 (standard-webhooks/standard-webhooks, spec/standard-webhooks.md), symmetric scheme: the
/// signed content is <c>{webhook-id}.{webhook-timestamp}.{body}</c>, the signature HMAC-SHA256 with the secret's
/// bytes, sent as <c>v1,&lt;base64&gt;</c>; several signatures (one per secret, for rotation) are space-separated.
/// </summary>
public static class StandardWebhook
{
    public const string IdHeader = "webhook-id";
    public const string TimestampHeader = "webhook-timestamp";
    public const string SignatureHeader = "webhook-signature";

    /// <summary>The signature version of the symmetric scheme.</summary>
    public const string Version = "v1";

    /// <summary>The tolerance the reference libraries use, and this verifier's default.</summary>
    public static readonly TimeSpan DefaultTolerance = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The <c>webhook-signature</c> value for <paramref name="body"/>: one <c>v1,&lt;base64&gt;</c> per secret, in the
    /// given order (the current secret first, then those being rotated out).
    /// </summary>
    public static string Sign(string messageId, long timestamp, ReadOnlySpan<byte> body, IReadOnlyList<WebhookSecret> secrets)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        if (!IsValidId(messageId))
        {
            throw new ArgumentException("a webhook id must be non-empty, without '.' or control characters", nameof(messageId));
        }

        if (secrets.Count == 0)
        {
            throw new ArgumentException("at least one secret is needed", nameof(secrets));
        }

        var content = SignedContent(messageId, timestamp.ToString(CultureInfo.InvariantCulture), body);
        var header = new StringBuilder();
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        foreach (var secret in secrets)
        {
            HMACSHA256.HashData(secret.Key, content, mac);
            if (header.Length > 0)
            {
                header.Append(' ');
            }

            header.Append(Version).Append(',').Append(Convert.ToBase64String(mac));
        }

        return header.ToString();
    }

    /// <summary>
    /// Checks a received webhook as a consumer would: the id, the timestamp within <paramref name="tolerance"/> of
    /// <paramref name="now"/>, and any <c>v1</c> signature matching any of <paramref name="secrets"/> (compared in
    /// constant time). Unknown signature versions (<c>v1a</c>, <c>v2</c>) are skipped, not errors.
    /// </summary>
    public static WebhookVerification Verify(string? messageId, string? timestamp, string? signatures, ReadOnlySpan<byte> body, IReadOnlyList<WebhookSecret> secrets, DateTimeOffset now, TimeSpan? tolerance = null)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        if (messageId is null || !IsValidId(messageId))
        {
            return WebhookVerification.BadId;
        }

        if (timestamp is null || timestamp.Length is 0 or > 19 || !timestamp.All(char.IsAsciiDigit)
            || !long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            return WebhookVerification.BadTimestamp;
        }

        var limit = (long)(tolerance ?? DefaultTolerance).TotalSeconds;
        if (Math.Abs((decimal)seconds - now.ToUnixTimeSeconds()) > limit)
        {
            return WebhookVerification.TimestampOutOfTolerance;
        }

        var candidates = new List<byte[]>();
        foreach (var entry in (signatures ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var comma = entry.IndexOf(',', StringComparison.Ordinal);
            if (comma > 0 && entry.AsSpan(0, comma).SequenceEqual(Version))
            {
                var decoded = new byte[HMACSHA256.HashSizeInBytes + 3];
                if (Convert.TryFromBase64String(entry[(comma + 1)..], decoded, out var length) && length == HMACSHA256.HashSizeInBytes)
                {
                    candidates.Add(decoded[..length]);
                }
            }
        }

        if (candidates.Count == 0)
        {
            return WebhookVerification.NoSignature;
        }

        var content = SignedContent(messageId, timestamp, body);
        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        var matched = false;
        foreach (var secret in secrets)
        {
            HMACSHA256.HashData(secret.Key, content, expected);
            foreach (var candidate in candidates)
            {
                // No early exit: every comparison runs, so the time taken says nothing about which one matched.
                matched |= CryptographicOperations.FixedTimeEquals(expected, candidate);
            }
        }

        return matched ? WebhookVerification.Valid : WebhookVerification.SignatureMismatch;
    }

    /// <summary>A webhook id this server sends: <c>msg_</c> and 32 hex digits of a time-ordered UUID.</summary>
    public static string NewMessageId() => "msg_" + Guid.CreateVersion7().ToString("N");

    /// <summary>The spec: ids must not hold <c>.</c> (it delimits the signed content); no control characters either.</summary>
    public static bool IsValidId(string id) =>
        id.Length is > 0 and <= 256 && !id.Contains('.', StringComparison.Ordinal) && !id.Any(char.IsControl);

    private static byte[] SignedContent(string messageId, string timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes(messageId + "." + timestamp + ".");
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content.AsSpan(prefix.Length));
        return content;
    }
}
