using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Notes;

/// <summary>A key string taken apart: its name, the key ID it states, and the key bytes after the type byte.</summary>
internal readonly record struct KeyString(string Name, uint KeyId, byte[] Key, int KeyIdOffset, int KeyOffset);

/// <summary>Shared rules of the C2SP signed-note format: key names, key IDs, strict base64.</summary>
internal static class NoteEncoding
{
    /// <summary>Signature type byte for Ed25519 (C2SP signed-note, "Signature types").</summary>
    public const byte Ed25519Type = 0x01;

    /// <summary>Signature type byte for timestamped Ed25519 cosignatures (C2SP tlog-cosignature, <c>cosignature/v1</c>).</summary>
    public const byte CosignatureV1Type = 0x04;

    private const string PrivatePrefix = "PRIVATE+KEY+";

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

    /// <summary>
    /// Parses <c>[PRIVATE+KEY+]name+hexkeyid+base64(type || key)</c> as golang.org/x/mod/sumdb/note writes key
    /// strings, for signature type <paramref name="type"/> and a 32-byte key. The key ID is returned as stated (the
    /// caller checks it against the public key, which a private key string only yields once imported).
    /// <paramref name="what"/> starts every error message ("verifier key", "witness key"...).
    /// </summary>
    public static KeyString ParseKeyString(string text, bool isPrivate, byte type, string what, string typeName)
    {
        ArgumentNullException.ThrowIfNull(text);
        var prefix = isPrivate ? PrivatePrefix.Length : 0;
        if (isPrivate && !text.StartsWith(PrivatePrefix, StringComparison.Ordinal))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"{what}: must start with PRIVATE+KEY+", 0);
        }

        var (name, rest) = Chop(text[prefix..], '+');
        var (hex, key64) = Chop(rest, '+');
        var keyIdOffset = prefix + name.Length + 1;
        if (!IsValidKeyName(name))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"{what}: the key name is empty or contains a space or '+'", prefix);
        }

        if (!TryParseKeyId(hex, out var keyId))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"{what}: the key ID must be exactly 8 hex digits", keyIdOffset);
        }

        var keyOffset = keyIdOffset + hex.Length + 1;
        var half = isPrivate ? "private" : "public";
        if (!TryDecodeBase64(key64, out var typed) || typed.Length == 0)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"{what}: the {half} key is not standard base64", keyOffset);
        }

        try
        {
            if (!isPrivate && KeyId(name, typed) != keyId)
            {
                MalformedInputException.Throw(InputErrorKind.Corrupt, $"{what}: the key ID does not match the name and public key", keyIdOffset);
            }

            if (typed[0] != type)
            {
                MalformedInputException.Throw(InputErrorKind.Unsupported, $"{what}: unsupported signature type 0x{typed[0]:x2} (only {typeName}, 0x{type:x2})", keyOffset);
            }

            if (typed.Length != 1 + Ed25519KeySize)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, isPrivate ? $"{what}: an Ed25519 seed is 32 bytes" : $"{what}: an Ed25519 public key is 32 bytes", keyOffset);
            }

            return new KeyString(name, keyId, typed[1..], keyIdOffset, keyOffset);
        }
        finally
        {
            if (isPrivate)
            {
                Array.Clear(typed);
            }
        }
    }

    /// <summary>Writes a key string: <c>[PRIVATE+KEY+]name+hexkeyid+base64(type || key)</c>.</summary>
    public static string FormatKeyString(bool isPrivate, string name, uint keyId, byte type, ReadOnlySpan<byte> key)
    {
        var typed = new byte[1 + key.Length];
        typed[0] = type;
        key.CopyTo(typed.AsSpan(1));
        try
        {
            return $"{(isPrivate ? PrivatePrefix : string.Empty)}{name}+{keyId:x8}+{Convert.ToBase64String(typed)}";
        }
        finally
        {
            Array.Clear(typed);
        }
    }
}
