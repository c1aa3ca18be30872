using System.Text.Json;
using TrainGuard.Parsing;

namespace TrainGuard.Checkpoints.Contents;

/// <summary>One entry of <c>trainer_state.json</c> <c>log_history</c> (any field may be absent).</summary>
public sealed record TrainerLogEntry(long? Step, double? Epoch, double? Loss, double? GradNorm, double? LearningRate);

/// <summary>
/// The Hugging Face Trainer's <c>trainer_state.json</c>: the step and epoch it was saved at and the log
/// history. Fields this reader does not know are ignored (the Trainer adds new ones over versions).
/// </summary>
public sealed record TrainerState
{
    /// <summary>Largest file read.</summary>
    public const long MaxBytes = 256L * 1024 * 1024;

    /// <summary>Largest log history kept.</summary>
    public const int MaxLogEntries = 10_000_000;

    public long? GlobalStep { get; init; }

    public double? Epoch { get; init; }

    public long? MaxSteps { get; init; }

    public double? NumTrainEpochs { get; init; }

    public long? TrainBatchSize { get; init; }

    public long? LoggingSteps { get; init; }

    public long? SaveSteps { get; init; }

    public IReadOnlyList<TrainerLogEntry> LogHistory { get; init; } = [];

    /// <exception cref="MalformedInputException">Too large, not JSON, or a known field of the wrong type.</exception>
    public static TrainerState Load(string path)
    {
        using var stream = File.OpenRead(path);
        if (stream.Length > MaxBytes)
        {
            MalformedInputException.ThrowLimit("trainer_state.json size", MaxBytes, 0);
        }

        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return Parse(bytes);
    }

    /// <exception cref="MalformedInputException">Not JSON, or a known field of the wrong type.</exception>
    public static TrainerState Parse(ReadOnlySpan<byte> json)
    {
        if (json.Length > MaxBytes)
        {
            MalformedInputException.ThrowLimit("trainer_state.json size", MaxBytes, 0);
        }

        // Python's json.dumps writes NaN, Infinity and -Infinity bare (a diverged loss is NaN): read them as strings.
        var quoted = QuoteNonFiniteLiterals(json);
        if (quoted is not null)
        {
            json = quoted;
        }

        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64, CommentHandling = JsonCommentHandling.Disallow });
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            throw MalformedInputException.Create(
                InputErrorKind.Syntax,
                $"trainer_state.json is not valid JSON (line {(ex.LineNumber ?? 0) + 1}, byte {(ex.BytePositionInLine ?? 0) + 1} of the line): {ex.Message}",
                LineStart(json, ex.LineNumber ?? 0) + (ex.BytePositionInLine ?? 0));
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"trainer_state.json must hold a JSON object, not {root.ValueKind.ToString().ToLowerInvariant()}", 0);
            }

            var history = new List<TrainerLogEntry>();
            if (root.TryGetProperty("log_history", out var log) && log.ValueKind != JsonValueKind.Null)
            {
                if (log.ValueKind != JsonValueKind.Array)
                {
                    MalformedInputException.Throw(InputErrorKind.Syntax, "trainer_state.json: 'log_history' must be a list", 0);
                }

                var index = 0;
                foreach (var entry in log.EnumerateArray())
                {
                    if (history.Count >= MaxLogEntries)
                    {
                        MalformedInputException.ThrowLimit("trainer_state.json log_history entries", MaxLogEntries, 0);
                    }

                    if (entry.ValueKind != JsonValueKind.Object)
                    {
                        MalformedInputException.Throw(InputErrorKind.Syntax, $"trainer_state.json: log_history[{index}] must be an object", 0);
                    }

                    var at = $"log_history[{index}]";
                    history.Add(new TrainerLogEntry(
                        Integer(entry, "step", at),
                        Number(entry, "epoch", at),
                        Number(entry, "loss", at),
                        Number(entry, "grad_norm", at),
                        Number(entry, "learning_rate", at)));
                    index++;
                }
            }

            return new TrainerState
            {
                GlobalStep = Integer(root, "global_step", null),
                Epoch = Number(root, "epoch", null),
                MaxSteps = Integer(root, "max_steps", null),
                NumTrainEpochs = Number(root, "num_train_epochs", null),
                TrainBatchSize = Integer(root, "train_batch_size", null),
                LoggingSteps = Integer(root, "logging_steps", null),
                SaveSteps = Integer(root, "save_steps", null),
                LogHistory = history,
            };
        }
    }

    /// <summary>Fuzz target: never throws anything but <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        try
        {
            _ = Parse(data);
        }
        catch (MalformedInputException)
        {
        }
    }

    private static long? Integer(JsonElement obj, string name, string? parent)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number)
        {
            if (value.TryGetInt64(out var integer))
            {
                return integer;
            }

            // Some Trainer versions write whole numbers as floats (6.0).
            if (value.TryGetDouble(out var d) && double.IsFinite(d) && Math.Floor(d) == d && Math.Abs(d) < 9e15)
            {
                return (long)d;
            }
        }

        return MalformedInputException.Throw<long?>(InputErrorKind.Syntax, $"trainer_state.json: '{Field(parent, name)}' must be an integer, not {Describe(value)}", 0);
    }

    private static double? Number(JsonElement obj, string name, string? parent)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var d))
        {
            return d;
        }

        // json.dumps writes NaN and Infinity for non-finite floats, which System.Text.Json reads as a string only when quoted.
        if (value.ValueKind == JsonValueKind.String && value.GetString() is "NaN" or "Infinity" or "-Infinity")
        {
            return value.GetString() switch { "NaN" => double.NaN, "Infinity" => double.PositiveInfinity, _ => double.NegativeInfinity };
        }

        return MalformedInputException.Throw<double?>(InputErrorKind.Syntax, $"trainer_state.json: '{Field(parent, name)}' must be a number, not {Describe(value)}", 0);
    }

    /// <summary>A copy with bare <c>NaN</c>/<c>Infinity</c>/<c>-Infinity</c> outside strings quoted; null when there are none.</summary>
    private static byte[]? QuoteNonFiniteLiterals(ReadOnlySpan<byte> json)
    {
        if (json.IndexOf("NaN"u8) < 0 && json.IndexOf("Infinity"u8) < 0)
        {
            return null;
        }

        var output = new List<byte>(json.Length + 64);
        var inString = false;
        var changed = false;
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

            var literal = json[i..].StartsWith("NaN"u8) ? 3 : json[i..].StartsWith("Infinity"u8) ? 8 : json[i..].StartsWith("-Infinity"u8) ? 9 : 0;
            if (literal > 0)
            {
                output.Add((byte)'"');
                output.AddRange(json.Slice(i, literal));
                output.Add((byte)'"');
                i += literal - 1;
                changed = true;
                continue;
            }

            output.Add(b);
        }

        return changed ? [.. output] : null;
    }

    private static string Field(string? parent, string name) => parent is null ? name : parent + "." + name;

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{value.GetString()}\"",
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        JsonValueKind.Array => "a list",
        JsonValueKind.Object => "an object",
        _ => value.ValueKind.ToString().ToLowerInvariant(),
    };

    private static long LineStart(ReadOnlySpan<byte> json, long line)
    {
        var offset = 0;
        for (long seen = 0; seen < line && offset < json.Length; offset++)
        {
            if (json[offset] == (byte)'\n')
            {
                seen++;
            }
        }

        return offset;
    }
}
