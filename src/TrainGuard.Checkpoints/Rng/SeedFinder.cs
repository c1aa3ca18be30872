using System.Numerics;

namespace TrainGuard.Checkpoints.Rng;

/// <summary>Where a generator state came from: the seed whose seeding, twisted <see cref="Twists"/> times, gives it.</summary>
/// <param name="Found">Whether a seeding was reached within the bound.</param>
/// <param name="Seed">The seed (for torch and numpy the 32 bits the state holds; for Python the shortest integer with that stream).</param>
/// <param name="Twists">Twists between the seeding and the state (0: nothing drawn yet).</param>
/// <param name="TwistsSearched">How many twists were undone looking for it.</param>
public sealed record SeedOrigin(bool Found, BigInteger Seed, long Twists, long TwistsSearched)
{
    /// <summary>32-bit words drawn since seeding, given the position within the current block.</summary>
    public long WordsDrawn(int position) => !Found || Twists == 0 ? 0 : checked(((Twists - 1) * Mt19937.N) + position);
}

/// <summary>How a generator state relates to the seed a run declares.</summary>
public enum SeedVerdict
{
    /// <summary>The state is the declared seed's stream (advanced some number of draws).</summary>
    DeclaredSeed,

    /// <summary>The state provably comes from another seed.</summary>
    OtherSeed,

    /// <summary>No seeding was reached within the search bound: neither confirmed nor refuted.</summary>
    Unknown,
}

/// <summary>The answer to "was this generator seeded with the run's seed?", with the evidence.</summary>
public sealed record SeedAssessment(SeedVerdict Verdict, SeedOrigin Origin, string Explanation);

/// <summary>
/// Rewinds an MT19937 state twist by twist (see <see cref="Mt19937.Untwist"/>) until it is exactly a seeding
/// state (<c>init_genrand</c> for torch and numpy, <c>init_by_array</c> for Python), which names the seed.
/// Exact: a state is reported as another seed's only when that seeding was actually reached.
/// </summary>
public static class SeedFinder
{
    /// <summary>Default bound: 100,000 twists, 62.4 million 32-bit draws (about 1 s per generator whose seeding is not found).</summary>
    public const long DefaultMaxTwists = 100_000;

    /// <summary>Longest Python seed key recovered, in 32-bit words (seeds up to 2^2048).</summary>
    public const int MaxPythonKeyWords = 64;

    /// <summary>Finds the seeding <paramref name="words"/> came from, undoing at most <paramref name="maxTwists"/> twists.</summary>
    public static SeedOrigin Find(ReadOnlySpan<uint> words, RngKind kind, long maxTwists, CancellationToken cancellationToken = default)
    {
        if (words.Length != Mt19937.N)
        {
            throw new ArgumentException($"an MT19937 state has {Mt19937.N} words", nameof(words));
        }

        var mt = words.ToArray();
        for (long twists = 0; twists <= maxTwists; twists++)
        {
            if (twists > 0)
            {
                Mt19937.Untwist(mt);
            }

            if ((twists & 0xfff) == 0xfff)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            if (kind == RngKind.Python)
            {
                if (Mt19937.TryRecoverByArrayKey(mt, MaxPythonKeyWords, out var key))
                {
                    return new SeedOrigin(true, Mt19937.IntegerOf(key), twists, twists);
                }
            }
            else if (Mt19937.TryRecoverGenrandSeed(mt, out var seed))
            {
                return new SeedOrigin(true, seed, twists, twists);
            }
        }

        return new SeedOrigin(false, BigInteger.Zero, 0, Math.Max(0, maxTwists));
    }

    /// <summary>Whether seeding <paramref name="kind"/> with <paramref name="a"/> and with <paramref name="b"/> gives the same stream.</summary>
    public static bool SameStream(RngKind kind, BigInteger a, BigInteger b) => kind switch
    {
        RngKind.Python => Mt19937.SameStream(Mt19937.InitByArray(Mt19937.KeyOf(a)), Mt19937.InitByArray(Mt19937.KeyOf(b))),
        _ => Low32(a) == Low32(b),
    };

    /// <summary>The 32 bits torch and numpy seed MT19937 with (torch wraps negative seeds to 64 bits first).</summary>
    public static uint Low32(BigInteger seed) => (uint)(seed & uint.MaxValue);

    /// <summary>Decides whether <paramref name="words"/> belongs to <paramref name="declared"/>, searching at most <paramref name="maxTwists"/> twists back.</summary>
    public static SeedAssessment Assess(ReadOnlySpan<uint> words, int position, RngKind kind, BigInteger declared, long maxTwists, CancellationToken cancellationToken = default)
    {
        var origin = Find(words, kind, maxTwists, cancellationToken);
        if (!origin.Found)
        {
            return new SeedAssessment(SeedVerdict.Unknown, origin,
                $"no seeding reached within {maxTwists:N0} twists ({maxTwists * Mt19937.N:N0} draws) back: the seed can be neither confirmed nor refuted");
        }

        var drawn = origin.WordsDrawn(position);
        if (SameStream(kind, origin.Seed, declared))
        {
            return new SeedAssessment(SeedVerdict.DeclaredSeed, origin, $"seed {declared}'s stream after {drawn:N0} draws");
        }

        return new SeedAssessment(SeedVerdict.OtherSeed, origin, $"seed {origin.Seed}'s stream after {drawn:N0} draws, not seed {declared}'s");
    }
}
