using System.Globalization;
using System.Text;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Notes;

/// <summary>
/// A tree head in the C2SP <c>tlog-checkpoint</c> note text format (C2SP calls it a checkpoint; TrainGuard says
/// tree head, keeping "checkpoint" for training checkpoints): the log's origin line, the tree size in decimal (no
/// leading zeroes), the base64 root hash, then optional non-empty extension lines; every line ends in a newline.
/// Signed as a C2SP signed note it is the log's signed tree head.
/// </summary>
public sealed class TreeHead
{
    /// <summary>Largest tree head text accepted.</summary>
    public const int MaxTextBytes = 64 * 1024;

    private readonly byte[] _rootHash;

    public TreeHead(string origin, long size, ReadOnlySpan<byte> rootHash, IReadOnlyList<string>? extensions = null)
    {
        ArgumentNullException.ThrowIfNull(origin);
        if (origin.Length == 0 || origin.Contains('\n', StringComparison.Ordinal))
        {
            throw new ArgumentException("the origin is one non-empty line", nameof(origin));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (rootHash.Length != MerkleHash.Size)
        {
            throw new ArgumentException("the root hash is 32 bytes", nameof(rootHash));
        }

        extensions ??= [];
        if (extensions.Any(e => e.Length == 0 || e.Contains('\n', StringComparison.Ordinal)))
        {
            throw new ArgumentException("extension lines are single non-empty lines", nameof(extensions));
        }

        Origin = origin;
        Size = size;
        _rootHash = rootHash.ToArray();
        Extensions = [.. extensions];
        SignedNote.CheckText(ToNoteText());
    }

    /// <summary>The log identity that issued the tree head (by convention a schema-less URL).</summary>
    public string Origin { get; }

    /// <summary>Number of leaves in the tree.</summary>
    public long Size { get; }

    /// <summary>The RFC 9162 root hash at <see cref="Size"/>.</summary>
    public ReadOnlySpan<byte> RootHash => _rootHash;

    /// <summary>Opaque extension lines (not recommended by the spec; kept for round-tripping).</summary>
    public IReadOnlyList<string> Extensions { get; }

    /// <summary>The note text: <c>origin\nsize\nbase64(root)\n</c> followed by any extension lines.</summary>
    public string ToNoteText()
    {
        var builder = new StringBuilder()
            .Append(Origin).Append('\n')
            .Append(Size.ToString(CultureInfo.InvariantCulture)).Append('\n')
            .Append(Convert.ToBase64String(_rootHash)).Append('\n');
        foreach (var extension in Extensions)
        {
            builder.Append(extension).Append('\n');
        }

        return builder.ToString();
    }

    /// <summary>Signs the tree head text and returns the signed note.</summary>
    public string Sign(params NoteSigner[] signers) => SignedNote.Sign(ToNoteText(), signers);

    /// <summary>Parses tree head (C2SP checkpoint) note text; malformed input throws <see cref="MalformedInputException"/>.</summary>
    public static TreeHead Parse(string noteText)
    {
        ArgumentNullException.ThrowIfNull(noteText);
        return Parse(Encoding.UTF8.GetBytes(noteText));
    }

    /// <summary>Parses tree head (C2SP checkpoint) note text; malformed input throws <see cref="MalformedInputException"/>.</summary>
    public static TreeHead Parse(ReadOnlySpan<byte> noteText)
    {
        if (noteText.Length > MaxTextBytes)
        {
            MalformedInputException.ThrowLimit("checkpoint size", MaxTextBytes, MaxTextBytes);
        }

        if (noteText.IsEmpty || noteText[^1] != (byte)'\n')
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "checkpoint: the text must end with a newline", noteText.Length);
        }

        var lines = new List<(int Offset, string Text)>();
        var position = 0;
        while (position < noteText.Length)
        {
            var length = noteText[position..].IndexOf((byte)'\n');
            var line = noteText.Slice(position, length);
            if (line.IsEmpty)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, "checkpoint: lines must not be empty", position);
            }

            lines.Add((position, DecodeLine(line, position)));
            position += length + 1;
        }

        if (lines.Count < 3)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "checkpoint: needs an origin, a tree size and a root hash line", noteText.Length);
        }

        var size = ParseSize(lines[1].Text, lines[1].Offset);
        if (!NoteEncoding.TryDecodeBase64(lines[2].Text, out var root) || root.Length != MerkleHash.Size)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "checkpoint: the root hash line must be the base64 of 32 bytes", lines[2].Offset);
        }

        return new TreeHead(lines[0].Text, size, root, [.. lines.Skip(3).Select(l => l.Text)]);
    }

    /// <summary>
    /// Parses a signed tree head note and checks it against the log's keys (and origin, when given).
    /// Malformed notes throw <see cref="MalformedInputException"/>; signature problems are reported in the result.
    /// </summary>
    public static SignedTreeHead OpenSigned(ReadOnlySpan<byte> signedNote, IEnumerable<NoteVerifier> logKeys, string? expectedOrigin = null)
    {
        var note = SignedNote.Parse(signedNote);
        var checkpoint = Parse(note.Text);
        var originMatches = expectedOrigin is null || string.Equals(checkpoint.Origin, expectedOrigin, StringComparison.Ordinal);
        return new SignedTreeHead(checkpoint, note.Verify(logKeys), originMatches);
    }

    /// <summary>Fuzz target: must never throw anything but <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        TreeHead checkpoint;
        try
        {
            checkpoint = Parse(data);
        }
        catch (MalformedInputException)
        {
            return;
        }

        var again = Parse(checkpoint.ToNoteText());
        if (again.Size != checkpoint.Size || !again.RootHash.SequenceEqual(checkpoint.RootHash) || !string.Equals(again.Origin, checkpoint.Origin, StringComparison.Ordinal))
        {
            throw new InvalidOperationException("checkpoint does not round-trip");
        }
    }

    private static string DecodeLine(ReadOnlySpan<byte> line, int offset)
    {
        var consumedTotal = 0;
        while (consumedTotal < line.Length)
        {
            var status = Rune.DecodeFromUtf8(line[consumedTotal..], out var rune, out var consumed);
            if (status != System.Buffers.OperationStatus.Done)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, "checkpoint: not valid UTF-8", offset + consumedTotal);
            }

            if (rune.Value < 0x20)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"checkpoint: control character 0x{rune.Value:x2}", offset + consumedTotal);
            }

            consumedTotal += consumed;
        }

        return Encoding.UTF8.GetString(line);
    }

    private static long ParseSize(string text, int offset)
    {
        if (text.Length > 1 && text[0] == '0')
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "checkpoint: the tree size must not have leading zeroes", offset);
        }

        long size = 0;
        foreach (var ch in text)
        {
            if (ch is < '0' or > '9')
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, "checkpoint: the tree size must be a decimal number", offset);
            }

            if (size > (long.MaxValue - (ch - '0')) / 10)
            {
                MalformedInputException.ThrowLimit("checkpoint tree size", long.MaxValue, offset);
            }

            size = (size * 10) + (ch - '0');
        }

        return size;
    }
}

/// <summary>A parsed signed tree head with the outcome of its signature check.</summary>
public sealed record SignedTreeHead(TreeHead TreeHead, NoteVerification Verification, bool OriginMatches)
{
    /// <summary>True when a known log key signed it and the origin is the expected one.</summary>
    public bool IsTrusted => Verification.IsVerified && OriginMatches;
}
