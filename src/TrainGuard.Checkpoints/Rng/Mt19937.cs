namespace TrainGuard.Checkpoints.Rng;

/// <summary>
/// The MT19937 Mersenne Twister as CPython's <c>random</c>, numpy's <c>RandomState</c> and torch's CPU
/// generator implement it: the two seeding routines, the twist that regenerates the 624 state words, and
/// its exact inverse (so a saved state can be rewound to the seeding that produced it).
/// </summary>
/// <remarks>
/// A twist reads only the top bit of word 0, so rewinding recovers words 1..623 and the top bit of word 0;
/// the low 31 bits of word 0 come back from the next rewind (its first step yields them). Comparisons
/// therefore never look at the low bits of word 0.
/// </remarks>
public static class Mt19937
{
    /// <summary>State words.</summary>
    public const int N = 624;

    private const int M = 397;
    private const uint MatrixA = 0x9908b0df;
    private const uint UpperMask = 0x80000000;
    private const uint LowerMask = 0x7fffffff;
    private const uint InitMultiplier = 1812433253;
    private const uint ByArrayMultiplier1 = 1664525;
    private const uint ByArrayMultiplier2 = 1566083941;
    private const uint ByArrayBaseSeed = 19650218;

    /// <summary>The multiplicative inverse of <see cref="InitMultiplier"/> modulo 2^32.</summary>
    private static readonly uint InitMultiplierInverse = Inverse(InitMultiplier);

    private static readonly uint[] ByArrayBase = InitGenrand(ByArrayBaseSeed);

    /// <summary><c>init_genrand(seed)</c>: torch <c>manual_seed</c> (low 32 bits) and numpy <c>RandomState.seed(int)</c>.</summary>
    public static uint[] InitGenrand(uint seed)
    {
        var mt = new uint[N];
        mt[0] = seed;
        for (var j = 1; j < N; j++)
        {
            mt[j] = unchecked((InitMultiplier * (mt[j - 1] ^ (mt[j - 1] >> 30))) + (uint)j);
        }

        return mt;
    }

    /// <summary><c>init_by_array(key)</c>: CPython <c>random.seed(int)</c> with the 32-bit words of <c>abs(n)</c>, least significant first.</summary>
    public static uint[] InitByArray(ReadOnlySpan<uint> key)
    {
        if (key.IsEmpty)
        {
            throw new ArgumentException("init_by_array needs at least one key word", nameof(key));
        }

        var mt = (uint[])ByArrayBase.Clone();
        int i = 1, j = 0;
        for (var k = Math.Max(N, key.Length); k > 0; k--)
        {
            mt[i] = unchecked((mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * ByArrayMultiplier1)) + key[j] + (uint)j);
            i++;
            j++;
            if (i >= N)
            {
                mt[0] = mt[N - 1];
                i = 1;
            }

            if (j >= key.Length)
            {
                j = 0;
            }
        }

        for (var k = N - 1; k > 0; k--)
        {
            mt[i] = unchecked((mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * ByArrayMultiplier2)) - (uint)i);
            i++;
            if (i >= N)
            {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }

        mt[0] = UpperMask;
        return mt;
    }

    /// <summary>Regenerates all 624 words in place (what each library does when its position reaches 624).</summary>
    public static void Twist(Span<uint> mt)
    {
        CheckLength(mt.Length);
        for (var i = 0; i < N; i++)
        {
            var y = (mt[i] & UpperMask) | (mt[(i + 1) % N] & LowerMask);
            mt[i] = mt[(i + M) % N] ^ (y >> 1) ^ ((y & 1) != 0 ? MatrixA : 0u);
        }
    }

    /// <summary>
    /// Undoes one <see cref="Twist"/> in place. Words 1..623 of the result are exact; word 0 has its top bit
    /// exact and its low 31 bits zero until the next <see cref="Untwist"/> recovers them. The low 31 bits of
    /// word 0 of the input are also restored (they follow from the rest of the state).
    /// </summary>
    public static void Untwist(Span<uint> mt)
    {
        CheckLength(mt.Length);
        Span<uint> old = stackalloc uint[N];

        // Step 623 read the already-twisted word 0: it yields the upper bit of old[623] and the low bits of mt[0].
        var y = Unmix(mt[N - 1] ^ mt[M - 1]);
        old[N - 1] = y & UpperMask;
        mt[0] = (mt[0] & UpperMask) | (y & LowerMask);
        for (var i = N - 2; i >= N - M; i--)
        {
            y = Unmix(mt[i] ^ mt[i - (N - M)]);
            old[i] |= y & UpperMask;
            old[i + 1] |= y & LowerMask;
        }

        for (var i = N - M - 1; i >= 0; i--)
        {
            y = Unmix(mt[i] ^ old[i + M]);
            old[i] |= y & UpperMask;
            old[i + 1] |= y & LowerMask;
        }

        old.CopyTo(mt);
    }

    /// <summary>
    /// Whether <paramref name="mt"/> (words 1..623 and the top bit of word 0) is exactly the state
    /// <c>init_genrand</c> leaves, and for which 32-bit seed.
    /// </summary>
    public static bool TryRecoverGenrandSeed(ReadOnlySpan<uint> mt, out uint seed)
    {
        CheckLength(mt.Length);
        seed = 0;
        if (mt[2] != unchecked((InitMultiplier * (mt[1] ^ (mt[1] >> 30))) + 2u))
        {
            return false;
        }

        var mixed = unchecked((mt[1] - 1u) * InitMultiplierInverse);

        // x ^ (x >> 30) keeps the top two bits, so applying it again undoes it.
        var candidate = mixed ^ (mixed >> 30);
        if ((candidate & UpperMask) != (mt[0] & UpperMask))
        {
            return false;
        }

        for (var j = 3; j < N; j++)
        {
            if (mt[j] != unchecked((InitMultiplier * (mt[j - 1] ^ (mt[j - 1] >> 30))) + (uint)j))
            {
                return false;
            }
        }

        seed = candidate;
        return true;
    }

    /// <summary>
    /// Whether <paramref name="mt"/> is exactly a state <c>init_by_array</c> leaves, and for which key. The key
    /// returned is the shortest that produces the state (keys differing only in ways init_by_array cannot see
    /// produce the same stream: CPython's <c>random.seed(x)</c> and <c>random.seed(x + (x-1)*2**32)</c> are one stream).
    /// </summary>
    public static bool TryRecoverByArrayKey(ReadOnlySpan<uint> mt, int maxKeyWords, out uint[] key)
    {
        CheckLength(mt.Length);
        key = [];
        if ((mt[0] & UpperMask) == 0)
        {
            return false;
        }

        // Undo the second mixing loop for words 2..623 (word 1 was rewritten last, from word 623).
        Span<uint> first = stackalloc uint[N];
        first[1] = (mt[1] + 1u) ^ Mix2(mt[N - 1]);
        for (var i = 2; i < N; i++)
        {
            first[i] = unchecked((mt[i] + (uint)i) ^ Mix2(i == 2 ? first[1] : mt[i - 1]));
        }

        // The first loop added key[j] + j to word i (j = (i - 1) mod keyLength); recover those addends.
        Span<uint> addend = stackalloc uint[N];
        for (var i = 3; i < N; i++)
        {
            addend[i] = unchecked(first[i] - (ByArrayBase[i] ^ Mix1(first[i - 1])));
        }

        var limit = Math.Min(maxKeyWords, (N - 3) / 2);
        for (var period = 1; period <= limit; period++)
        {
            if (!IsPeriodic(addend[3..], period))
            {
                continue;
            }

            var candidate = new uint[period];
            for (var i = 3; i < 3 + period; i++)
            {
                var j = (i - 1) % period;
                candidate[j] = unchecked(addend[i] - (uint)j);
            }

            if (SameStream(InitByArray(candidate), mt))
            {
                key = candidate;
                return true;
            }
        }

        return false;
    }

    /// <summary>Equal as generator states: words 1..623 and the top bit of word 0 (the only bits a twist reads).</summary>
    public static bool SameStream(ReadOnlySpan<uint> a, ReadOnlySpan<uint> b) =>
        a.Length == N && b.Length == N && (a[0] & UpperMask) == (b[0] & UpperMask) && a[1..].SequenceEqual(b[1..]);

    /// <summary>The 32-bit words of a non-negative integer, least significant first; at least one word (CPython's <c>random.seed</c> key).</summary>
    public static uint[] KeyOf(System.Numerics.BigInteger value)
    {
        var n = System.Numerics.BigInteger.Abs(value);
        var bytes = n.ToByteArray(isUnsigned: true, isBigEndian: false);
        var words = Math.Max(1, (bytes.Length + 3) / 4);
        var key = new uint[words];
        for (var i = 0; i < bytes.Length; i++)
        {
            key[i / 4] |= (uint)bytes[i] << (8 * (i % 4));
        }

        var used = words;
        while (used > 1 && key[used - 1] == 0)
        {
            used--;
        }

        return key[..used];
    }

    /// <summary>The integer whose <see cref="KeyOf"/> is <paramref name="key"/>.</summary>
    public static System.Numerics.BigInteger IntegerOf(ReadOnlySpan<uint> key)
    {
        var bytes = new byte[key.Length * 4];
        for (var i = 0; i < key.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 4), key[i]);
        }

        return new System.Numerics.BigInteger(bytes, isUnsigned: true, isBigEndian: false);
    }

    private static bool IsPeriodic(ReadOnlySpan<uint> values, int period)
    {
        for (var i = period; i < values.Length; i++)
        {
            if (values[i] != values[i - period])
            {
                return false;
            }
        }

        return true;
    }

    private static uint Mix1(uint x) => unchecked((x ^ (x >> 30)) * ByArrayMultiplier1);

    private static uint Mix2(uint x) => unchecked((x ^ (x >> 30)) * ByArrayMultiplier2);

    /// <summary>Inverts <c>(y &gt;&gt; 1) ^ (y odd ? MATRIX_A : 0)</c>: the top bit says whether MATRIX_A was applied.</summary>
    private static uint Unmix(uint value)
    {
        if ((value & UpperMask) != 0)
        {
            return ((value ^ MatrixA) << 1) | 1u;
        }

        return value << 1;
    }

    private static uint Inverse(uint odd)
    {
        // Newton iteration: each step doubles the number of correct low bits.
        var x = odd;
        for (var i = 0; i < 5; i++)
        {
            x = unchecked(x * (2u - (odd * x)));
        }

        return x;
    }

    private static void CheckLength(int length)
    {
        if (length != N)
        {
            throw new ArgumentException($"an MT19937 state has {N} words, not {length}");
        }
    }
}
