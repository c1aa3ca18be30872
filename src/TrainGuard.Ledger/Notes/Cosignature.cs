using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace TrainGuard.Ledger.Notes;

/// <summary>
/// A verified C2SP <c>tlog-cosignature</c> (<c>cosignature/v1</c>, Ed25519): a witness's statement that, at
/// <see cref="Time"/>, the tree head it signed was the largest consistent one it had seen of that log.
/// </summary>
/// <param name="Witness">The witness key name (its signature line's name).</param>
/// <param name="KeyId">SHA-256(name || 0x0A || 0x04 || public key)[:4], big-endian.</param>
/// <param name="Time">The timestamp the witness signed (whole seconds).</param>
/// <param name="Line">The signature line as written in the note, newline included.</param>
public sealed record Cosignature(string Witness, uint KeyId, DateTimeOffset Time, string Line)
{
    /// <summary>The fixed first line of the signed message (domain separation).</summary>
    public const string Header = "cosignature/v1";

    /// <summary>Bytes after the key ID in a signature line: the u64 timestamp and the 64-byte Ed25519 signature.</summary>
    public const int SignatureBytes = sizeof(ulong) + NoteEncoding.Ed25519SignatureSize;

    /// <summary>
    /// The message a <c>cosignature/v1</c> signs: <c>cosignature/v1\ntime &lt;unix seconds&gt;\n</c> followed by the
    /// whole note text of the tree head (its final newline included, its signature lines not).
    /// </summary>
    public static byte[] Message(string noteText, long unixSeconds)
    {
        ArgumentNullException.ThrowIfNull(noteText);
        ArgumentOutOfRangeException.ThrowIfNegative(unixSeconds);
        return Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Header}\ntime {unixSeconds}\n{noteText}"));
    }

    /// <summary>Splits a signature's bytes (after the key ID) into the timestamp and the Ed25519 signature; false when malformed.</summary>
    internal static bool TrySplit(ReadOnlySpan<byte> signature, out long unixSeconds, out ReadOnlySpan<byte> ed25519)
    {
        unixSeconds = 0;
        ed25519 = default;
        if (signature.Length != SignatureBytes)
        {
            return false;
        }

        var timestamp = BinaryPrimitives.ReadUInt64BigEndian(signature);
        if (timestamp > long.MaxValue)
        {
            return false;
        }

        unixSeconds = (long)timestamp;
        ed25519 = signature[sizeof(ulong)..];
        return true;
    }
}
