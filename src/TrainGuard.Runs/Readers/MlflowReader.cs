using System.Globalization;
using TrainGuard.Parsing;
using TrainGuard.Runs.Model;

namespace TrainGuard.Runs.Readers;

/// <summary>
/// An MLflow file-store run (<c>mlruns/EXP/RUN</c>): each file in <c>metrics/</c> (names may have folders:
/// <c>metrics/train/loss</c>) holds lines <c>timestamp value step</c> (milliseconds since the epoch, the value,
/// the step). A line that does not have that shape is an error naming the file and line.
/// </summary>
public static class MlflowReader
{
    public const string MetricsFolder = "metrics";

    /// <summary>Largest metric file read.</summary>
    public const long MaxFileBytes = 512L * 1024 * 1024;

    /// <summary>Reads the run folder (the one holding <c>metrics/</c>) or the <c>metrics</c> folder itself.</summary>
    /// <exception cref="MalformedInputException">A malformed line, or no training metric.</exception>
    public static RunLog Read(string folder)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        var metrics = Path.GetFileName(full) == MetricsFolder ? full : Path.Combine(full, MetricsFolder);
        var runFolder = Path.GetFileName(full) == MetricsFolder ? Path.GetDirectoryName(full)! : full;
        if (!Directory.Exists(metrics))
        {
            throw MalformedInputException.CreateAt(InputErrorKind.Syntax, "no metrics/ folder (is it an MLflow run folder, mlruns/EXP/RUN?)", folder, line: null);
        }

        var points = new List<(string, long, double, DateTimeOffset?, long)>();
        foreach (var file in Directory.EnumerateFiles(metrics, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var name = Path.GetRelativePath(metrics, file).Replace(Path.DirectorySeparatorChar, '/');
            if (MetricNames.Classify(name) == MetricKind.Other)
            {
                continue;
            }

            if (new FileInfo(file).Length > MaxFileBytes)
            {
                MalformedInputException.ThrowLimit($"{file}: metric file size", MaxFileBytes, 0);
            }

            ReadMetric(file, name, File.ReadLines(file), points);
        }

        var events = MetricNames.ToSteps(Path.GetFileName(runFolder), points);
        if (events.Count == 0)
        {
            throw MalformedInputException.CreateAt(InputErrorKind.Syntax, "no training metric (loss, learning_rate/lr or grad_norm) in metrics/", folder, line: null);
        }

        return new RunLog { Source = folder, Format = RunFormat.Mlflow, Events = events };
    }

    /// <summary>The points of one metric file's lines.</summary>
    internal static void ReadMetric(string file, string name, IEnumerable<string> lines, List<(string, long, double, DateTimeOffset?, long)> points)
    {
        var number = 0;
        foreach (var line in lines)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length is not (2 or 3))
            {
                throw Error(file, number, $"expected 'timestamp value step', got {parts.Length} fields");
            }

            if (!long.TryParse(parts[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var ms) || ms < 0 || ms > 253402300799999)
            {
                throw Error(file, number, $"timestamp '{parts[0]}' is not milliseconds since 1970");
            }

            var value = ParseValue(parts[1]) ?? throw Error(file, number, $"value '{parts[1]}' is not a number");
            long step = 0;
            if (parts.Length == 3 && (!long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out step)))
            {
                throw Error(file, number, $"step '{parts[2]}' is not a non-negative integer");
            }

            points.Add((name, step, value, DateTimeOffset.FromUnixTimeMilliseconds(ms), number));
        }
    }

    private static double? ParseValue(string text) => text.ToLowerInvariant() switch
    {
        "nan" => double.NaN,
        "inf" or "infinity" or "+inf" => double.PositiveInfinity,
        "-inf" or "-infinity" => double.NegativeInfinity,
        _ => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null,
    };

    private static MalformedInputException Error(string file, int line, string problem) =>
        MalformedInputException.CreateAt(InputErrorKind.Syntax, problem, file, line);

    /// <summary>Fuzz target over one metric file's text: only <see cref="MalformedInputException"/> may escape.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data) =>
        ReadMetric("fuzz/metrics/loss", "loss", System.Text.Encoding.UTF8.GetString(data).Split('\n'), []);
}
