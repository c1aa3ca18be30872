namespace TrainGuard.Pickle.Tests.Support;

/// <summary>Deterministic fuzz inputs shared by the machine's and the value reader's fuzz tests.</summary>
internal static class FuzzInputs
{
    /// <summary>Every opcode byte of protocols 0-5.</summary>
    public static readonly byte[] Opcodes = "(.012FIJKLMNPQRSTUVXabcdegh}ijl]opqrst)uGBC"u8.ToArray()
        .Concat(Enumerable.Range(0x80, 0x19).Select(i => (byte)i)).ToArray();

    /// <summary>Short inputs made mostly of opcode bytes, a third random bytes.</summary>
    public static IEnumerable<byte[]> OpcodeSoup(int seed, int count)
    {
        var random = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            var input = new byte[random.Next(0, 96)];
            for (var k = 0; k < input.Length; k++)
            {
                input[k] = random.Next(3) == 0 ? (byte)random.Next(256) : Opcodes[random.Next(Opcodes.Length)];
            }

            yield return input;
        }
    }

    /// <summary>Real pickles with 1-4 mutations each: bit flips, random bytes, inserted opcodes, deletions, truncation.</summary>
    public static IEnumerable<byte[]> Mutations(IReadOnlyList<byte[]> seeds, int seed, int count)
    {
        var random = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            var input = seeds[random.Next(seeds.Count)].ToList();
            var mutations = random.Next(1, 5);
            for (var m = 0; m < mutations && input.Count > 0; m++)
            {
                var at = random.Next(input.Count);
                switch (random.Next(5))
                {
                    case 0: input[at] ^= (byte)(1 << random.Next(8)); break;
                    case 1: input[at] = (byte)random.Next(256); break;
                    case 2: input.Insert(at, Opcodes[random.Next(Opcodes.Length)]); break;
                    case 3: input.RemoveAt(at); break;
                    default: input.RemoveRange(at, input.Count - at); break;
                }
            }

            yield return [.. input];
        }
    }
}
