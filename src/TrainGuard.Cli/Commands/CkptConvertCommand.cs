using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Checkpoints.Conversion;
using TrainGuard.Cli.Options;
using TrainGuard.Cli.Output;
using TrainGuard.Findings;
using TrainGuard.Parsing;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard ckpt convert IN OUT.safetensors</c>: a pickle checkpoint's tensors as safetensors, never executing it.</summary>
internal static class CkptConvertCommand
{
    public const string Description = """
        Write the tensors of a torch pickle checkpoint (zip or legacy format; a state_dict, or a dict holding one
        under 'state_dict' or 'model') as a safetensors file, without executing anything.

        The input is scanned first and must be clean: a suspicious or malicious file is refused, with the scan's
        reason (there is no override). Values that are not tensors (an epoch counter, an optimizer beside the
        model) are refused too unless --skip-non-tensors, which lists what was left out. Views and strided
        tensors are written as contiguous copies, tensors sharing a storage each get their own bytes, the header
        carries __metadata__ {"format": "pt"} and is laid out as the safetensors library lays it out. OUT is
        written to a temporary file and renamed into place; an existing OUT is kept unless --force.

        Examples:
          trainguard ckpt convert checkpoint-500/pytorch_model.bin model.safetensors
          trainguard ckpt convert train-state.pt weights.safetensors --skip-non-tensors
        """ + "\nExit codes: 0 converted, 1 refused because the scan found the input suspicious or malicious, 2 error (malformed input, not clean for another reason, non-tensor values, output exists, bad usage).";

    public static IEnumerable<Command> Create(TextWriter stdout, TextWriter stderr) => [Convert(stdout, stderr)];

    private static Command Convert(TextWriter stdout, TextWriter stderr)
    {
        var input = new Argument<string>("IN") { Description = "A torch checkpoint (pytorch_model.bin, *.pt, *.pth): zip or legacy pickle format." };
        var output = new Argument<string>("OUT") { Description = "The safetensors file to write." };
        var force = new Option<bool>("--force") { Description = "Replace OUT if it exists." };
        var skip = new Option<bool>("--skip-non-tensors") { Description = "Leave out values that are not tensors (listed) instead of refusing the file." };
        var report = new ReportOptions(sarif: true);
        var command = new Command("convert", Description);
        command.Arguments.Add(input);
        command.Arguments.Add(output);
        command.AddOptions(force, skip);
        report.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            report.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            var inPath = parse.GetValue(input)!;
            var outPath = parse.GetValue(output)!;
            InputValidation.ExistingFile(inPath, "IN");

            ConvertResult result;
            try
            {
                result = await Task.Run(() => SafetensorsConverter.Convert(inPath, outPath, new ConvertOptions { Force = parse.GetValue(force), SkipNonTensors = parse.GetValue(skip) }, ct), ct);
            }
            catch (MalformedInputException ex)
            {
                var where = (ex.Member is null ? string.Empty : $" in {ex.Member}") + (ex.Offset is { } o ? $" at offset {o}" : string.Empty);
                await stderr.WriteLineAsync($"trainguard: {inPath}: cannot convert: {ex.Message}{where}");
                return ExitCodes.Error;
            }

            // A refusal is explained on standard error, as every error is; the report goes to the output.
            if (!result.Succeeded)
            {
                WriteText(result, stderr);
            }

            var verdict = result.Outcome switch
            {
                ConvertOutcome.Converted => Verdict.Clean,
                ConvertOutcome.NotClean when result.Scan?.Verdict is Verdict.Suspicious or Verdict.Malicious => result.Scan.Verdict,
                _ => Verdict.Error,
            };
            var item = new AnalyzedItem
            {
                Path = inPath,
                Format = "torch",
                Verdict = verdict,
                Findings = result.Outcome == ConvertOutcome.NotClean ? result.Scan?.Findings ?? [] : [],
                Elapsed = DateTimeOffset.UtcNow - started,
            };
            var converted = new Report
            {
                Command = "ckpt convert",
                Items = [item],
                ItemsName = "inputs",
                StartedAt = started,
                Elapsed = item.Elapsed.Value,
                Details = new CommandDetails(Json(outPath, result), text =>
                {
                    if (result.Succeeded)
                    {
                        WriteText(result, text);
                    }
                }),
            };
            return report.Write(parse, converted, stdout, stderr);
        });
        return command;
    }

    private static void WriteText(ConvertResult result, TextWriter writer)
    {
        writer.WriteLine((result.Succeeded ? string.Empty : "trainguard: ") + TextSanitizer.Escape(result.Message, 1000));
        if (result.Outcome == ConvertOutcome.NotClean && result.Scan is { } scan)
        {
            foreach (var f in scan.Findings.Take(10))
            {
                writer.WriteLine($"  {f.RuleId} {f.Severity.ToString().ToLowerInvariant()}: {TextSanitizer.Escape(f.Message, 300)}");
            }
        }

        if (result.Succeeded && result.StateDictKey is { } key)
        {
            writer.WriteLine($"  state_dict taken from '{key}'");
        }

        if (result.Skipped.Count > 0 && (result.Succeeded || result.Outcome == ConvertOutcome.NonTensorValues))
        {
            writer.WriteLine(result.Succeeded ? "  skipped (not tensors):" : "  not tensors:");
            foreach (var (path, value) in result.Skipped.Take(50))
            {
                writer.WriteLine($"    {TextSanitizer.Escape(path.Length == 0 ? "(root)" : path, 200)} = {TextSanitizer.Escape(value, 100)}");
            }

            if (result.Skipped.Count > 50)
            {
                writer.WriteLine($"    ... and {result.Skipped.Count - 50} more");
            }
        }
    }

    private static JsonObject Json(string output, ConvertResult result)
    {
        var doc = new Dictionary<string, object?>
        {
            ["output"] = output,
            ["outcome"] = JsonNamingPolicy.SnakeCaseLower.ConvertName(result.Outcome.ToString()),
            ["message"] = result.Message,
            ["scan_verdict"] = result.Scan?.Verdict.ToWireName(),
            ["state_dict_key"] = result.StateDictKey,
            ["bytes_written"] = result.Succeeded ? result.BytesWritten : null,
            ["tensors"] = result.Tensors.Select(t => new Dictionary<string, object>
            {
                ["name"] = t.Name,
                ["dtype"] = t.Dtype,
                ["shape"] = t.Shape,
                ["data_offsets"] = new[] { t.Begin, t.End },
                ["storage"] = t.StorageKey,
                ["was_contiguous"] = t.WasContiguous,
            }).ToList(),
            ["skipped"] = result.Skipped.Select(s => new Dictionary<string, string> { ["path"] = s.Path, ["value"] = s.Value }).ToList(),
        };
        return JsonSerializer.SerializeToNode(doc)!.AsObject();
    }
}
