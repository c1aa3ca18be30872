using TrainGuard.Formats.Detection;
using TrainGuard.Formats.SevenZip;
using TrainGuard.Formats.Tests.Support;
using TrainGuard.Formats.Zip;
using TrainGuard.Parsing;

namespace TrainGuard.Formats.Tests.SevenZip;

public class SevenZipReaderTests
{
    [Fact]
    public void Members_are_listed_and_read()
    {
        var bytes = Fixture.Bytes("7z/sample.7z");
        using var archive = SevenZipReader.Open(new MemoryStream(bytes), ZipLimits.Default);

        Assert.Equal(DetectedFormat.SevenZip, FormatDetector.Detect(bytes, bytes.Length));
        Assert.Equal(["data.pkl", "notes.txt"], archive.Entries.Select(e => e.Name).Order(StringComparer.Ordinal));
        var pickle = archive.Entries.Single(e => e.Name == "data.pkl");
        Assert.Equal(DetectedFormat.Pickle, FormatDetector.Detect(archive.ReadEntry(pickle, 1024), pickle.Size));
        Assert.Equal(600, archive.ReadEntry(archive.Entries.Single(e => e.Name == "notes.txt"), 1024).Length);
    }

    [Fact]
    public void Member_limit_is_enforced_on_actual_bytes()
    {
        using var archive = SevenZipReader.Open(new MemoryStream(Fixture.Bytes("7z/sample.7z")), new ZipLimits { MaxEntryBytes = 100 });
        using var stream = archive.OpenEntry(archive.Entries.Single(e => e.Name == "notes.txt"));

        var ex = Assert.Throws<MalformedInputException>(() => stream.CopyTo(Stream.Null));
        Assert.True(ex.LimitExceeded);
        Assert.Equal("notes.txt", ex.Member);
    }

    [Fact]
    public void Garbage_is_malformed_not_a_sharpcompress_exception()
    {
        byte[] data = [(byte)'7', (byte)'z', 0xBC, 0xAF, 0x27, 0x1C, 0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32];

        Assert.Throws<MalformedInputException>(() => SevenZipReader.Fuzz(data));
    }
}
