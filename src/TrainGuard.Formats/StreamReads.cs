using TrainGuard.Parsing;
namespace TrainGuard.Formats;

/// <summary>Positioned reads on a seekable stream that report truncation as malformed input.</summary>
internal static class StreamReads
{
    /// <summary>Reads exactly <paramref name="buffer"/>.Length bytes at <paramref name="offset"/> or throws a truncation error naming <paramref name="what"/>.</summary>
    public static void ReadExactly(Stream stream, object gate, long offset, Span<byte> buffer, string what, string? member = null)
    {
        if (offset < 0 || offset > stream.Length || buffer.Length > stream.Length - offset)
        {
            MalformedInputException.ThrowTruncated(what, offset, member);
        }

        int read;
        lock (gate)
        {
            stream.Position = offset;
            read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }

        if (read < buffer.Length)
        {
            MalformedInputException.ThrowTruncated(what, offset + read, member);
        }
    }

    /// <summary>Reads up to <paramref name="buffer"/>.Length bytes at <paramref name="offset"/>; returns how many.</summary>
    public static int ReadAtMost(Stream stream, object gate, long offset, Span<byte> buffer)
    {
        lock (gate)
        {
            stream.Position = offset;
            return stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
    }
}
