using System.Text;
using TrainGuard.Formats.Detection;
using TrainGuard.Formats.Tests.Support;

namespace TrainGuard.Formats.Tests.Detection;

public class FormatDetectorTests
{
    private static DetectedFormat Detect(byte[] bytes) => FormatDetector.Detect(bytes.AsSpan(0, Math.Min(bytes.Length, FormatDetector.HeadSize)), bytes.Length);

    [Theory]
    [InlineData("pickle/proto0.pkl")]
    [InlineData("pickle/proto0_list.pkl")]
    [InlineData("pickle/proto0_global.pkl")]
    [InlineData("pickle/proto1.pkl")]
    [InlineData("pickle/proto1_tuple.pkl")]
    [InlineData("pickle/proto2.pkl")]
    [InlineData("pickle/proto3.pkl")]
    [InlineData("pickle/proto4.pkl")]
    [InlineData("pickle/proto5.pkl")]
    public void Pickles_of_every_protocol_are_detected(string fixture) => Assert.Equal(DetectedFormat.Pickle, Detect(Fixture.Bytes(fixture)));

    [Fact]
    public void Legacy_torch_save_is_detected_by_its_magic_number()
    {
        Assert.Equal(DetectedFormat.TorchLegacy, Detect(Fixture.Bytes("torch/legacy_checkpoint.pt")));
        Assert.Equal(DetectedFormat.Zip, Detect(Fixture.Bytes("torch/zip_checkpoint.pt")));
    }

    [Fact]
    public void Legacy_magic_after_a_protocol_4_frame_is_detected()
    {
        byte[] framed = [0x80, 0x04, 0x95, 12, 0, 0, 0, 0, 0, 0, 0, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];

        Assert.Equal(DetectedFormat.TorchLegacy, Detect(framed));
    }

    [Theory]
    [InlineData(new byte[] { 0x1f, 0x8b, 0x08, 0 }, DetectedFormat.Gzip)]
    [InlineData(new byte[] { (byte)'B', (byte)'Z', (byte)'h', (byte)'9', 0x31 }, DetectedFormat.Bzip2)]
    [InlineData(new byte[] { 0xFD, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0 }, DetectedFormat.Xz)]
    [InlineData(new byte[] { 0x28, 0xB5, 0x2F, 0xFD, 0 }, DetectedFormat.Zstd)]
    [InlineData(new byte[] { (byte)'7', (byte)'z', 0xBC, 0xAF, 0x27, 0x1C }, DetectedFormat.SevenZip)]
    [InlineData(new byte[] { (byte)'P', (byte)'K', 3, 4 }, DetectedFormat.Zip)]
    [InlineData(new byte[] { (byte)'P', (byte)'K', 5, 6 }, DetectedFormat.Zip)]
    [InlineData(new byte[] { 0x80, 0x06, 0x2e }, DetectedFormat.Unknown)]
    public void Magic_numbers_are_recognised(byte[] head, DetectedFormat expected) => Assert.Equal(expected, Detect(head));

    [Fact]
    public void Empty_input_is_empty()
    {
        Assert.Equal(DetectedFormat.Empty, FormatDetector.Detect([], 0));
        Assert.Equal(DetectedFormat.Empty, FormatDetector.Detect(new MemoryStream()));
    }

    [Theory]
    [InlineData("Hello, world\n")]
    [InlineData("{\"json\": [1, 2, 3]}")]
    [InlineData("[1, 2, 3]")]
    [InlineData("(1, 2)")]
    [InlineData("#!/usr/bin/env python\nimport os\n")]
    [InlineData("I am a text file\n")]
    [InlineData("Notes: lots of text")]
    [InlineData("(lol)")]
    [InlineData("cos system")]
    [InlineData("S no quote\n")]
    [InlineData("K")]
    [InlineData("N")]
    [InlineData("a, b, c")]
    [InlineData("def f():\n    pass\n")]
    [InlineData("]] ]]")]
    public void Text_is_not_taken_for_a_pickle(string text) => Assert.Equal(DetectedFormat.Unknown, Detect(Encoding.UTF8.GetBytes(text)));

    [Theory]
    [InlineData("N.")]
    [InlineData("(lp0\nI1\naI2\na.")]
    [InlineData("(dp0\nS'a'\np1\nI1\ns.")]
    [InlineData("cos\nsystem\n(S'echo pwned'\ntR.")]
    [InlineData("c__builtin__\neval\n(Vid\ntR.")]
    [InlineData("]q\u0000(K\u0001K\u0002e.")]
    [InlineData("}q\u0000X\u0001\u0000\u0000\u0000aq\u0001K\u0001s.")]
    [InlineData("(I1\nI2\nt.")]
    public void Protocol_0_and_1_openings_are_pickles(string text) => Assert.Equal(DetectedFormat.Pickle, Detect(Encoding.Latin1.GetBytes(text)));

    [Fact]
    public void Protocol_0_pickle_longer_than_the_head_is_still_a_pickle()
    {
        var text = "(lp0\n" + string.Concat(Enumerable.Range(0, 2000).Select(i => $"I{i}\na"));
        var bytes = Encoding.ASCII.GetBytes(text + ".");

        Assert.True(bytes.Length > FormatDetector.HeadSize);
        Assert.Equal(DetectedFormat.Pickle, Detect(bytes));
    }

    [Fact]
    public void Random_binary_is_rarely_a_pickle()
    {
        var random = new Random(1234);
        var pickles = 0;
        for (var i = 0; i < 2000; i++)
        {
            var data = new byte[256];
            random.NextBytes(data);
            if (data[0] == 0x80)
            {
                continue;
            }

            if (PickleSniffer.LooksLikePickle(data, data.Length))
            {
                pickles++;
            }
        }

        Assert.True(pickles < 20, $"{pickles} of 2000 random buffers looked like pickles");
    }

    [Fact]
    public void Safetensors_detection_requires_a_plausible_length_and_brace()
    {
        var valid = Fixture.Bytes("safetensors/valid.safetensors");
        Assert.Equal(DetectedFormat.Safetensors, Detect(valid));

        var tooLong = (byte[])valid.Clone();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(tooLong, (ulong)valid.Length);
        Assert.Equal(DetectedFormat.Unknown, Detect(tooLong));
    }

    [Theory]
    [InlineData("npy/benign_f4.npy", DetectedFormat.Npy)]
    [InlineData("npz/arrays.npz", DetectedFormat.Zip)]
    [InlineData("tar/gnu_longname.tar", DetectedFormat.Tar)]
    [InlineData("tar/pax_longname.tar", DetectedFormat.Tar)]
    [InlineData("tar/ustar.tar", DetectedFormat.Tar)]
    [InlineData("tar/v7.tar", DetectedFormat.Tar)]
    [InlineData("7z/sample.7z", DetectedFormat.SevenZip)]
    public void Containers_are_detected_by_content(string fixture, DetectedFormat expected)
    {
        var bytes = Fixture.Bytes(fixture);

        Assert.Equal(expected, Detect(bytes));
        Assert.Equal(expected, FormatDetector.Detect(new MemoryStream(bytes)));
    }

    [Fact]
    public void Tar_with_a_broken_checksum_is_not_a_tar()
    {
        var bytes = Fixture.Bytes("tar/v7.tar");
        bytes[0] ^= 0x20;

        Assert.NotEqual(DetectedFormat.Tar, Detect(bytes));
    }
}
