using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace TrainGuard.Ledger.Notes;

/// <summary>Shared rules of the C2SP signed-note format: key names, key IDs, strict base64.</summary>
internal static class NoteEncoding
{
    /// <summary>Signature type byte for Ed25519 (C2SP signed-note, "Signature types").</summary>
    public const byte Ed25519Type = 0x01;

    public const int Ed25519KeySize = 32;
    public const int Ed25519SignatureSize = 64;

    /// <summary>Key names must be non-empty and contain neither Unicode spaces nor '+'.</summary>
    public static bool IsValidKeyName(string name)
    {
        if (name.Length == 0)
        {
            return false;
        }

        for (var i = 0; i < name.Length; i++)
        {
            var ch = name[i];
            if (ch == '+' || char.IsWhiteSpace(ch) || char.IsControl(ch))
            {
                return false;
            }

            if (char.IsSurrogate(ch))
            {
                if (!char.IsHighSurrogate(ch) || i + 1 >= name.Length || !char.IsLowSurrogate(name[i + 1]))
                {
                    return false;
                }

                i++;
            }
        }

        return true;
    }

    /// <summary>key ID = SHA-256(key name || 0x0A || signature type || public key)[:4], big-endian.</summary>
    public static uint KeyId(string name, ReadOnlySpan<byte> typedPublicKey)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var buffer = new byte[nameBytes.Length + 1 + typedPublicKey.Length];
        nameBytes.CopyTo(buffer, 0);
        buffer[nameBytes.Length] = (byte)'\n';
        typedPublicKey.CopyTo(buffer.AsSpan(nameBytes.Length + 1));
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(buffer, digest);
        return BinaryPrimitives.ReadUInt32BigEndian(digest);
    }

    /// <summary>Parses exactly eight hex digits (either case), as key IDs are written in key strings.</summary>
    public static bool TryParseKeyId(string hex, out uint keyId) =>
        uint.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out keyId) && hex.Length == 8;

    /// <summary>Decodes standard, padded RFC 4648 §4 base64 and nothing else (no whitespace, no URL alphabet).</summary>
    public static bool TryDecodeBase64(ReadOnlySpan<char> text, out byte[] bytes)
    {
        bytes = [];
        if (text.Length == 0 || text.Length % 4 != 0)
        {
            return false;
        }

        var padding = text[^1] == '=' ? (text[^2] == '=' ? 2 : 1) : 0;
        for (var i = 0; i < text.Length - padding; i++)
        {
            var c = text[i];
            if (!(c is >= 'A' and <= 'Z' or >= 'a' and <= 'z' or >= '0' and <= '9' or '+' or '/'))
            {
                return false;
            }
        }

        var buffer = new byte[text.Length / 4 * 3];
        if (!Convert.TryFromBase64Chars(text, buffer, out var written))
        {
            return false;
        }

        bytes = written == buffer.Length ? buffer : buffer[..written];
        return true;
    }

    /// <summary>Splits at the first <paramref name="separator"/>; when absent, everything is "before".</summary>
    public static (string Before, string After) Chop(string text, char separator)
    {
        var i = text.IndexOf(separator, StringComparison.Ordinal);
        return i < 0 ? (text, string.Empty) : (text[..i], text[(i + 1)..]);
    }
}
