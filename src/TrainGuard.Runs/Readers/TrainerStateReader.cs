using System.Text.Json;
using TrainGuard.Parsing;
using TrainGuard.Runs.Model;

namespace TrainGuard.Runs.Readers;

/// <summary>
/// A Hugging Face <c>trainer_state.json</c>: each <c>log_history</c> entry with a <c>step</c> and a training value
/// (<c>loss</c>, <c>learning_rate</c>, <c>grad_norm</c>) becomes a step of rank 0. Python's json writes NaN and
/// infinities as bare <c>NaN</c>, <c>Infinity</c> and <c>-Infinity</c>, which JSON does not allow; they are read.
/// </summary>
public static class TrainerStateReader
{
    public const string FileName = "trainer_state.json";

    /// <summary>Largest file read.</summary>
    public const long MaxBytes = 512L * 1024 * 1024;

    /// <exception cref="MalformedInputException">Not JSON, no <c>log_history</c>, or an entry with a field of the wrong type.</exception>
    public static RunLog Read(string path)
    {
        var length = new FileInfo(path).Length;
        if (length > MaxBytes)
        {
            MalformedInputException.ThrowLimit($"{path}: trainer_state.json size", MaxBytes, 0);
        }

        return Read(File.ReadAllBytes(path), path);
    }

    /// <inheritdoc cref="Read(string)"/>
    public static RunLog Read(byte[] bytes, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(QuoteNonFinite(bytes), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException ex)
        {
            throw MalformedInputException.CreateAt(InputErrorKind.Syntax, $"not valid JSON: {ex.Message}", source, (int?)(ex.LineNumber + 1), (int?)(ex.BytePositionInLine + 1));
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("log_history", out var history) || history.ValueKind != JsonValueKind.Array)
            {
                throw MalformedInputException.CreateAt(InputErrorKind.Syntax, "no log_history list (is it a Hugging Face trainer_state.json?)", source, line: null, field: "log_history");
            }

            var runId = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(source))) ?? source;
            var events = new List<RunEvent>();
            var index = 0;
            foreach (var entry in history.EnumerateArray())
            {
                var field = $"log_history[{index}]";
                if (entry.ValueKind != JsonValueKind.Object)
                {
                    throw MalformedInputException.CreateAt(InputErrorKind.Syntax, $"{field}: expected an object", source, line: null, field: field);
                }

                var loss = Value(entry, "loss", field, source);
                var lr = Value(entry, "learning_rate", field, source);
                var gradNorm = Value(entry, "grad_norm", field, source);
                if (loss is null && lr is null && gradNorm is null)
                {
                    index++;
                    continue; // an evaluation or end-of-training entry
                }

                var step = Value(entry, "step", field, source) is { } s && s >= 0 && s <= long.MaxValue && s == Math.Floor(s)
                    ? (long)s
                    : throw MalformedInputException.CreateAt(InputErrorKind.Syntax, $"{field}.step: expected a non-negative integer", source, line: null, field: field + ".step");
                events.Add(new RunEvent
                {
                    Kind = RunEventKind.Step,
                    RunId = runId,
                    Position = index,
                    Step = new RunStep { Step = step, Loss = loss, GradNorm = gradNorm, Lr = lr is { } l ? [l] : null },
                });
                index++;
            }

            if (events.Count == 0)
            {
                throw MalformedInputException.CreateAt(InputErrorKind.Syntax, "log_history has no training entry (loss, learning_rate or grad_norm with a step)", source, line: null, field: "log_history");
            }

            return new RunLog { Source = source, Format = RunFormat.TrainerState, Events = events };
        }
    }

    private static double? Value(JsonElement entry, string name, string field, string source)
    {
        if (!entry.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.Number => value.GetDouble(),
            JsonValueKind.String when value.GetString() is "NaN" => double.NaN,
            JsonValueKind.String when value.GetString() is "Infinity" => double.PositiveInfinity,
            JsonValueKind.String when value.GetString() is "-Infinity" => double.NegativeInfinity,
            _ => throw MalformedInputException.CreateAt(InputErrorKind.Syntax, $"{field}.{name}: expected a number", source, line: null, field: $"{field}.{name}"),
        };
    }

    /// <summary>
    /// Puts quotes around the bare <c>NaN</c>, <c>Infinity</c> and <c>-Infinity</c> tokens outside strings (the rest is
    /// untouched, so line numbers in errors stay right). <c>"NaN"</c> already in a string stays a string.
    /// </summary>
    internal static byte[] QuoteNonFinite(ReadOnlySpan<byte> json)
    {
        ReadOnlySpan<byte> nan = "NaN"u8, infinity = "Infinity"u8, negative = "-Infinity"u8;
        if (json.IndexOf(nan) < 0 && json.IndexOf(infinity) < 0)
        {
            return json.ToArray();
        }

        var output = new List<byte>(json.Length + 64);
        var inString = false;
        for (var i = 0; i < json.Length; i++)
        {
            var b = json[i];
            if (inString)
            {
                output.Add(b);
                if (b == (byte)'\\' && i + 1 < json.Length)
                {
                    output.Add(json[++i]);
                }
                else if (b == (byte)'"')
                {
                    inString = false;
                }

                continue;
            }

            if (b == (byte)'"')
            {
                inString = true;
                output.Add(b);
                continue;
            }

            var token = json[i..].StartsWith(negative) ? negative : json[i..].StartsWith(infinity) ? infinity : json[i..].StartsWith(nan) ? nan : default;
            if (token.Length > 0)
            {
                output.Add((byte)'"');
                output.AddRange(token);
                output.Add((byte)'"');
                i += token.Length - 1;
                continue;
            }

            output.Add(b);
        }

        return [.. output];
    }
}
