using System.Globalization;
using TrainGuard.Runs.Model;

namespace TrainGuard.Runs.Analysis;

/// <summary>One way two runs differ, first seen at <see cref="Step"/> (null: at the start, before any step).</summary>
public sealed record Divergence(string Criterion, long? Step, int Rank, string A, string B, string Detail);

/// <summary>What <c>runs compare</c> found.</summary>
public sealed record ComparisonResult
{
    /// <summary>The first divergence of all (earliest step, then the order of <see cref="RunComparison.Criteria"/>), or null when the runs agree.</summary>
    public Divergence? First => ByCriterion.OrderBy(d => d.Step ?? -1).ThenBy(d => Array.IndexOf(RunComparison.Criteria, d.Criterion)).FirstOrDefault();

    /// <summary>The first divergence of each criterion that diverged.</summary>
    public required IReadOnlyList<Divergence> ByCriterion { get; init; }

    /// <summary>The criteria both runs carry values for (a criterion neither or only one has cannot diverge).</summary>
    public required IReadOnlyList<string> Compared { get; init; }

    /// <summary>(rank, step) pairs both runs have.</summary>
    public long CommonSteps { get; init; }

    public long OnlyInA { get; init; }

    public long OnlyInB { get; init; }
}

/// <summary>
/// <c>runs compare A B</c>: the first step where a run and its rerun diverge, by initial seed, step seed, RNG-state
/// hash, batch hash (data order), parameter hash or loss (equal within a relative tolerance; NaN equals NaN).
/// Steps are matched by rank and step number; steps only one run has are counted, not compared.
/// </summary>
public static class RunComparison
{
    public const string InitialSeed = "initial-seed";
    public const string Seed = "seed";
    public const string RngHash = "rng-hash";
    public const string BatchHash = "batch-hash";
    public const string ParamHash = "param-hash";
    public const string Loss = "loss";

    /// <summary>The criteria, in the order a tie at one step is reported (causes before effects).</summary>
    public static readonly string[] Criteria = [InitialSeed, Seed, RngHash, BatchHash, ParamHash, Loss];

    public static ComparisonResult Compare(RunLog a, RunLog b, double lossTolerance)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var found = new Dictionary<string, Divergence>(StringComparer.Ordinal);
        var compared = new HashSet<string>(StringComparer.Ordinal);

        var seedsA = InitialSeeds(a);
        var seedsB = InitialSeeds(b);
        foreach (var (rank, seed) in seedsA.OrderBy(p => p.Key))
        {
            if (seedsB.TryGetValue(rank, out var other))
            {
                compared.Add(InitialSeed);
                if (seed != other && !found.ContainsKey(InitialSeed))
                {
                    found[InitialSeed] = new Divergence(InitialSeed, null, rank, seed, other, $"rank {rank} started with seed {seed} in A and {other} in B");
                }
            }
        }

        var stepsA = Steps(a);
        var stepsB = Steps(b);
        long common = 0;
        foreach (var (key, x) in stepsA)
        {
            if (!stepsB.TryGetValue(key, out var y))
            {
                continue;
            }

            common++;
            Check(found, compared, Seed, key, x.Seed, y.Seed);
            Check(found, compared, RngHash, key, x.RngHash, y.RngHash);
            Check(found, compared, BatchHash, key, x.BatchHash, y.BatchHash);
            Check(found, compared, ParamHash, key, x.ParamHash, y.ParamHash);
            if (x.Loss is { } la && y.Loss is { } lb)
            {
                compared.Add(Loss);
                if (!SameLoss(la, lb, lossTolerance) && !found.ContainsKey(Loss))
                {
                    var relative = Math.Abs(la - lb) / Math.Max(Math.Abs(la), Math.Abs(lb));
                    found[Loss] = new Divergence(Loss, key.Step, key.Rank, F(la), F(lb), $"loss {F(la)} in A, {F(lb)} in B at step {key.Step} (relative difference {F(relative)}, tolerance {F(lossTolerance)})");
                }
            }
        }

        return new ComparisonResult
        {
            ByCriterion = [.. found.Values.OrderBy(d => d.Step ?? -1).ThenBy(d => Array.IndexOf(Criteria, d.Criterion))],
            Compared = [.. Criteria.Where(compared.Contains)],
            CommonSteps = common,
            OnlyInA = stepsA.Keys.Count(k => !stepsB.ContainsKey(k)),
            OnlyInB = stepsB.Keys.Count(k => !stepsA.ContainsKey(k)),
        };
    }

    public static bool SameLoss(double a, double b, double tolerance) =>
        a.Equals(b) || Math.Abs(a - b) <= tolerance * Math.Max(Math.Abs(a), Math.Abs(b));

    private static void Check(Dictionary<string, Divergence> found, HashSet<string> compared, string criterion, (long Step, int Rank) key, string? a, string? b)
    {
        if (a is null || b is null)
        {
            return;
        }

        compared.Add(criterion);
        if (a != b && !found.ContainsKey(criterion))
        {
            found[criterion] = new Divergence(criterion, key.Step, key.Rank, a, b, $"{criterion} differs at step {key.Step} (rank {key.Rank}): {Short(a)} in A, {Short(b)} in B");
        }
    }

    /// <summary>Steps by (step, rank) in step order; a step logged twice keeps its first record.</summary>
    private static SortedDictionary<(long Step, int Rank), RunStep> Steps(RunLog log)
    {
        var steps = new SortedDictionary<(long Step, int Rank), RunStep>();
        foreach (var e in log.Steps)
        {
            steps.TryAdd((e.Step!.Step, e.Rank), e.Step);
        }

        return steps;
    }

    private static Dictionary<int, string> InitialSeeds(RunLog log)
    {
        var seeds = new Dictionary<int, string>();
        foreach (var e in log.Events)
        {
            if (e.Kind == RunEventKind.Started && e.InitialSeed is { } seed)
            {
                seeds.TryAdd(e.Rank, seed);
            }
        }

        return seeds;
    }

    private static string Short(string value) => value.Length > 20 ? value[..16] + "…" : value;

    internal static string F(double value) => value.ToString("G9", CultureInfo.InvariantCulture);
}
