namespace TrainGuard.Pickle.Tests.Support;

/// <summary>The fuzz alphabet of the machine's and the value reader's fuzz tests (inputs come from the shared <c>FuzzHarness</c>).</summary>
internal static class FuzzInputs
{
    /// <summary>Every opcode byte of protocols 0-5.</summary>
    public static readonly byte[] Opcodes = "(.012FIJKLMNPQRSTUVXabcdegh}ijl]opqrst)uGBC"u8.ToArray()
        .Concat(Enumerable.Range(0x80, 0x19).Select(i => (byte)i)).ToArray();

    /// <summary>Longest opcode soup generated: short inputs reach deep into the machine quickly.</summary>
    public const int SoupLength = 95;
}
