namespace TrainGuard.Checkpoints.Rng;

/// <summary>
/// torch's CPU generator (<c>torch.Generator()</c>, <c>at::mt19937</c>) from <c>manual_seed</c> on: its 32-bit draws
/// and <c>torch.randperm(n, generator=g)</c> as the CPU kernel computes it (Fisher-Yates, position i swapped with
/// i + <c>random() % (n - i)</c>). Checked against torch 1.13 and 2.14 by tests/fixtures/runs/order.
/// </summary>
public sealed class TorchCpuGenerator
{
    /// <summary>
    /// Largest n whose permutation this computes: from <c>2^32 / 20</c> on torch 2.x draws 64-bit numbers
    /// (and shuffles inside out), torch 1.13 does not, so the two disagree there.
    /// </summary>
    public const int MaxRandpermSize = (int)(uint.MaxValue / 20) - 1;

    private readonly uint[] _words;
    private int _next = Mt19937.N;

    /// <summary><c>torch.Generator().manual_seed(seed)</c>: the seed modulo 2^64 as torch keeps it; its low 32 bits seed MT19937.</summary>
    public TorchCpuGenerator(ulong seed)
    {
        _words = Mt19937.InitGenrand(unchecked((uint)seed));
    }

    /// <summary>The next 32-bit draw (<c>CPUGeneratorImpl::random()</c>).</summary>
    public uint Random()
    {
        if (_next == Mt19937.N)
        {
            Mt19937.Twist(_words);
            _next = 0;
        }

        var y = _words[_next++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >> 18;
        return y;
    }

    /// <summary>Moves past <paramref name="draws"/> draws without tempering them.</summary>
    public void Skip(long draws)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(draws);
        while (draws > 0)
        {
            if (_next == Mt19937.N)
            {
                Mt19937.Twist(_words);
                _next = 0;
            }

            var take = (int)Math.Min(draws, Mt19937.N - _next);
            _next += take;
            draws -= take;
        }
    }

    /// <summary>Fills <paramref name="result"/> with <c>torch.randperm(result.Length, generator=this)</c>; draws length − 1 numbers.</summary>
    public void Randperm(Span<int> result)
    {
        var n = result.Length;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(n, MaxRandpermSize, nameof(result));
        for (var i = 0; i < n; i++)
        {
            result[i] = i;
        }

        for (var i = 0; i < n - 1; i++)
        {
            var z = i + (int)(Random() % (uint)(n - i));
            (result[i], result[z]) = (result[z], result[i]);
        }
    }

    /// <summary>Draws per <see cref="Randperm"/> of <paramref name="n"/> elements.</summary>
    public static long RandpermDraws(long n) => Math.Max(0, n - 1);
}
