using System.Diagnostics;
using System.Runtime.ExceptionServices;
using TrainGuard.Parsing;
using TrainGuard.Pickle.Machine;

namespace TrainGuard.Pickle;

/// <summary>
/// The symbolic pickle machine: reads pickles (protocols 0-5) and records what a load would import and call,
/// without importing, constructing or calling anything. Bad input never throws: it ends the analysis with
/// <see cref="PickleAnalysis.Error"/> set, keeping everything found before it.
/// </summary>
public static class PickleMachine
{
    /// <summary>
    /// Analyses pickles one after another until the data ends (legacy torch files hold several; payloads hide
    /// after the first STOP). Bytes after the last STOP that are not a further complete pickle set
    /// <see cref="PickleAnalysis.TrailingDataOffset"/>; what they would have done before failing is still recorded.
    /// </summary>
    /// <param name="data">The pickle bytes.</param>
    /// <param name="limits">Bounds on the analysis (<see cref="PickleLimits.Default"/> when null).</param>
    /// <param name="ct">Cancels the analysis.</param>
    /// <param name="consumed">
    /// Called now and then with an offset the opcode loop has read past (see <see cref="ConsumedInterval"/>),
    /// so a caller holding a large memory-mapped input can let the OS drop pages it no longer needs resident.
    /// Bytes before it may still be read again (strings and floats are decoded lazily, when a call is rendered),
    /// so they must stay readable: advise, never unmap.
    /// </param>
    public static PickleAnalysis Analyze(ReadOnlySpan<byte> data, PickleLimits? limits = null, CancellationToken ct = default, Action<long>? consumed = null)
    {
        limits ??= PickleLimits.Default;
        return AnalyzeCore(data, null, limits, ct, 0, Deadline(limits), consumed);
    }

    /// <summary>
    /// Analyses exactly <paramref name="maxPickles"/> pickles from the start of <paramref name="data"/> and
    /// reports where they end (<see cref="PickleAnalysis.EndOffset"/>): for formats where other bytes follow.
    /// Fewer complete pickles is an error.
    /// </summary>
    public static PickleAnalysis Analyze(ReadOnlySpan<byte> data, int maxPickles, PickleLimits? limits, CancellationToken ct, Action<long>? consumed = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPickles);
        limits ??= PickleLimits.Default;
        return AnalyzeCore(data, maxPickles, limits, ct, 0, Deadline(limits), consumed);
    }

    /// <summary>About how many opcodes run between two calls of the <c>consumed</c> callback.</summary>
    public const int ConsumedInterval = Interpreter.BudgetInterval;

    /// <summary>
    /// Fuzz target: analyses arbitrary bytes. Bad input ends the analysis with <see cref="PickleAnalysis.Error"/>
    /// set; a failure of the machine itself (an <see cref="InputErrorKind.Internal"/> error, here or in a nested
    /// pickle) is thrown again as the original exception, so a fuzzer driving this target sees the bug.
    /// </summary>
    public static void Fuzz(ReadOnlySpan<byte> data) =>
        ThrowIfInternal(Analyze(data, new PickleLimits { Timeout = TimeSpan.FromSeconds(10), MaxObjects = 1_000_000, MaxRecords = 100_000 }));

    /// <summary>
    /// Throws the original exception of an <see cref="InputErrorKind.Internal"/> error in <paramref name="analysis"/>
    /// or any nested analysis; does nothing for malformed input. For fuzz targets built on the machine.
    /// </summary>
    public static void ThrowIfInternal(PickleAnalysis analysis)
    {
        if (analysis.Error is { Kind: InputErrorKind.Internal } error)
        {
            Exception bug = error;
            while (bug is MalformedInputException { InnerException: { } inner })
            {
                bug = inner;
            }

            ExceptionDispatchInfo.Throw(bug is MalformedInputException ? new InvalidOperationException(error.Message, error) : bug);
        }

        foreach (var nested in analysis.Nested)
        {
            ThrowIfInternal(nested.Analysis);
        }
    }

    /// <summary>Prefix of <see cref="PickleAnalysis.Error"/> messages for failures of the machine itself (bugs), never for bad input.</summary>
    public const string InternalErrorPrefix = "internal error in the pickle machine";

    private static long Deadline(PickleLimits limits)
    {
        var ticks = limits.Timeout.TotalSeconds * Stopwatch.Frequency;
        return ticks >= long.MaxValue / 2 ? long.MaxValue : Stopwatch.GetTimestamp() + (long)ticks;
    }

    internal static PickleAnalysis AnalyzeCore(ReadOnlySpan<byte> data, int? exactPickles, PickleLimits limits, CancellationToken ct, int depth, long deadline, Action<long>? consumed = null)
    {
        var analysis = new PickleAnalysis();
        if (data.Length > limits.MaxBytes)
        {
            analysis.Error = MalformedInputException.Create(
                InputErrorKind.OverLimit,
                MalformedInputException.LimitMessage($"pickle size {data.Length:N0}", limits.MaxBytes),
                0);
            return analysis;
        }

        if (data.IsEmpty)
        {
            analysis.Error = MalformedInputException.Create(InputErrorKind.Truncated, "empty input: a pickle has at least one opcode and STOP", 0);
            return analysis;
        }

        var machine = new Interpreter(analysis, limits, depth, deadline, ct, consumed);
        var pos = 0;
        try
        {
            while (true)
            {
                try
                {
                    pos = machine.RunPickle(data, pos);
                }
                catch (MalformedInputException ex) when (exactPickles is null && analysis.PickleCount > 0 && !ex.LimitExceeded)
                {
                    // Not a further complete pickle: trailing data, not an error. What it did is kept.
                    analysis.TrailingDataOffset = analysis.EndOffset;
                    break;
                }

                analysis.PickleCount++;
                analysis.EndOffset = pos;
                if (exactPickles is { } wanted)
                {
                    if (analysis.PickleCount == wanted)
                    {
                        break;
                    }

                    continue;
                }

                if (pos >= data.Length)
                {
                    break;
                }

                if (analysis.PickleCount >= limits.MaxPickles)
                {
                    MalformedInputException.ThrowLimit("number of pickles one after another", limits.MaxPickles, pos);
                }
            }
        }
        catch (MalformedInputException ex)
        {
            analysis.Error = ex;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            analysis.Error = MalformedInputException.Create(
                InputErrorKind.Internal,
                $"{InternalErrorPrefix} ({ex.GetType().Name}) at opcode offset {machine.CurrentOpcode}; the input is not reported clean",
                machine.CurrentOpcode,
                inner: ex);
        }

        analysis.OpcodeCount = machine.OpcodeCount;
        if (machine.HasGraphModuleCalls)
        {
            GraphModuleCode.Attach(data, analysis);
        }

        return analysis;
    }
}
