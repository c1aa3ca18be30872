using System.Text;
using System.Text.Json;
using TrainGuard.Events;
using TrainGuard.Parsing;
using TrainGuard.Runs.Model;

namespace TrainGuard.Runs.Readers;

/// <summary>
/// TrainGuard's run JSONL: one event per line, exactly the events the training client sends (docs/events.md). Lines
/// that are other events are skipped; a line that is not JSON, or a run event with a bad field, is an error naming the
/// file and line.
/// </summary>
public static class RunJsonlReader
{
    /// <exception cref="MalformedInputException">A line that is not a JSON object, a bad run event, or no run event at all.</exception>
    public static RunLog Read(string path)
    {
        using var stream = File.OpenRead(path);
        return Read(stream, path);
    }

    /// <inheritdoc cref="Read(string)"/>
    public static RunLog Read(Stream stream, string source)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false);
        var events = new List<RunEvent>();
        var number = 0;
        long offset = 0;
        while (reader.ReadLine() is { } line)
        {
            number++;
            var lineOffset = offset;
            offset += Encoding.UTF8.GetByteCount(line) + 1;
            if (line.Length > EventRecord.MaxLineLength)
            {
                throw MalformedInputException.CreateAt(InputErrorKind.OverLimit, $"the line is {line.Length:N0} characters; an event line is at most {EventRecord.MaxLineLength:N0}", source, number, offset: lineOffset);
            }

            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(line, new JsonDocumentOptions { MaxDepth = 64 });
            }
            catch (JsonException ex)
            {
                throw MalformedInputException.CreateAt(InputErrorKind.Syntax, $"not a JSON event: {ex.Message}", source, number, column: (int?)(ex.BytePositionInLine + 1), offset: lineOffset);
            }

            using (document)
            {
                if (RunEventParser.Read(document.RootElement, lineOffset, source, number) is { } e)
                {
                    events.Add(e);
                }
            }
        }

        if (events.Count == 0)
        {
            throw MalformedInputException.CreateAt(InputErrorKind.Syntax, "no run-started, run-step or run-attestation event in the file (is it TrainGuard's run JSONL?)", source, line: null);
        }

        return new RunLog { Source = source, Format = RunFormat.TrainGuardJsonl, Events = events };
    }

    /// <summary>Fuzz target: only <see cref="MalformedInputException"/> may escape.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        using var stream = new MemoryStream(data.ToArray());
        Read(stream, "fuzz");
    }
}
