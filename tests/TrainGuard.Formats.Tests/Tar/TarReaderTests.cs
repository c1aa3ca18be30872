using System.Text;
using TrainGuard.Formats.Detection;
using TrainGuard.Formats.Tar;
using TrainGuard.Formats.Tests.Support;
using TrainGuard.Parsing;

namespace TrainGuard.Formats.Tests.Tar;

public class TarReaderTests
{
    private static TarReader Open(byte[] bytes, TarLimits? limits = null) => TarReader.Open(new MemoryStream(bytes), limits ?? TarLimits.Default);

    private const string LongName = "archive/very_long_directory_name_very_long_directory_name_very_long_directory_name_very_long_directory_name_very_long_directory_name_very_long_directory_name_/pickle";

    [Fact]
    public void Gnu_long_name_is_folded_into_the_member()
    {
        using var tar = Open(Fixture.Bytes("tar/gnu_longname.tar"));

        Assert.Equal([LongName, "storages"], tar.Entries.Select(e => e.Name));
        Assert.Equal("gnu long name member"u8.ToArray(), tar.ReadEntry(tar.Entries[0], 1024));
        Assert.Equal(700, tar.Entries[1].Size);
        Assert.Empty(tar.Issues);
    }

    [Fact]
    public void Pax_path_overrides_the_header_name()
    {
        using var tar = Open(Fixture.Bytes("tar/pax_longname.tar"));

        Assert.Equal(LongName + "_pax_\u00e9", tar.Entries[0].Name);
        Assert.Equal("pax member"u8.ToArray(), tar.ReadEntry(tar.Entries[0], 1024));
        Assert.Equal("tensors", tar.Entries[1].Name);
    }

    [Fact]
    public void Ustar_members_and_data_offsets_are_read()
    {
        var bytes = Fixture.Bytes("tar/ustar.tar");
        using var tar = Open(bytes);

        Assert.Equal(["pickle", "dir/sub/file.txt"], tar.Entries.Select(e => e.Name));
        var pickle = tar.Entries[0];
        Assert.Equal(512, pickle.DataOffset);
        Assert.True(pickle.IsRegularFile);
        Assert.Equal(DetectedFormat.Pickle, FormatDetector.Detect(tar.ReadHead(pickle, 64), pickle.Size));
        Assert.Equal(DetectedFormat.Tar, FormatDetector.Detect(bytes, bytes.Length));
        using var stream = tar.OpenEntry(tar.Entries[1]);
        Assert.Equal("hello", new StreamReader(stream).ReadToEnd());
    }

    [Fact]
    public void V7_tar_without_magic_is_read_and_detected_by_checksum()
    {
        var bytes = Fixture.Bytes("tar/v7.tar");
        using var tar = Open(bytes);

        Assert.Equal("v7member.bin", Assert.Single(tar.Entries).Name);
        Assert.Equal(DetectedFormat.Tar, FormatDetector.Detect(bytes, bytes.Length));
    }

    private static byte[] Header(string name, string size, byte type = (byte)'0', bool fixChecksum = true)
    {
        var block = new byte[512];
        Encoding.ASCII.GetBytes(name).CopyTo(block, 0);
        Encoding.ASCII.GetBytes("0000644\0").CopyTo(block, 100);
        Encoding.ASCII.GetBytes(size).CopyTo(block, 124);
        block[156] = type;
        Encoding.ASCII.GetBytes("ustar\000").CopyTo(block, 257);
        if (fixChecksum)
        {
            Encoding.ASCII.GetBytes("        ").CopyTo(block, 148);
            var sum = block.Sum(b => b);
            Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(block, 148);
        }

        return block;
    }

    private static byte[] Archive(params byte[][] parts) => [.. parts.SelectMany(p => p), .. new byte[1024]];

    [Fact]
    public void Bad_checksum_is_malformed_at_the_checksum_field()
    {
        var header = Header("a", "00000000001\0");
        header[0] = (byte)'b';

        var ex = Assert.Throws<MalformedInputException>(() => Open(Archive(header, new byte[512])));
        Assert.Equal(148, ex.Offset);
    }

    [Theory]
    [InlineData("0000000009x\0", "not an octal")]
    [InlineData("77777777777\0", "runs past the end")]
    public void Bad_or_huge_sizes_are_malformed(string size, string expected)
    {
        var ex = Assert.Throws<MalformedInputException>(() => Open(Archive(Header("a", size))));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.NotNull(ex.Offset);
    }

    [Fact]
    public void Negative_base256_size_is_malformed()
    {
        var header = Header("a", "", fixChecksum: false);
        for (var i = 124; i < 136; i++)
        {
            header[i] = 0xFF;
        }

        Encoding.ASCII.GetBytes("        ").CopyTo(header, 148);
        Encoding.ASCII.GetBytes(Convert.ToString(header.Sum(b => b), 8).PadLeft(6, '0') + "\0 ").CopyTo(header, 148);

        Assert.Contains("negative", Assert.Throws<MalformedInputException>(() => Open(Archive(header))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_end_of_archive_marker_is_truncation()
    {
        var data = Header("a", "00000000001\0").Concat(new byte[512]).ToArray();

        Assert.Contains("truncated", Assert.Throws<MalformedInputException>(() => Open(data)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_pax_record_is_refused()
    {
        var pax = "99 path=x\n"u8.ToArray();
        var data = Archive(Header("pax", "00000000012\0", (byte)'x'), [.. pax, .. new byte[512 - pax.Length]], Header("a", "00000000000\0"));

        Assert.Contains("PAX", Assert.Throws<MalformedInputException>(() => Open(data)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Traversal_names_links_duplicates_and_trailing_data_are_reported()
    {
        var data = Archive(Header("../evil", "00000000000\0"), Header("ok", "00000000000\0"), Header("ok", "00000000000\0"), Header("link", "00000000000\0", (byte)'2'))
            .Concat("hidden after the end"u8.ToArray()).ToArray();
        using var tar = Open(data);

        Assert.Equal(
            [TarIssueKind.UnsafePath, TarIssueKind.DuplicateName, TarIssueKind.Link, TarIssueKind.TrailingData],
            tar.Issues.Select(i => i.Kind));
    }

    [Fact]
    public void Member_size_and_count_limits_apply()
    {
        var bytes = Fixture.Bytes("tar/gnu_longname.tar");

        Assert.True(Assert.Throws<MalformedInputException>(() => Open(bytes, new TarLimits { MaxEntryBytes = 100 })).LimitExceeded);
        Assert.True(Assert.Throws<MalformedInputException>(() => Open(bytes, new TarLimits { MaxEntries = 1 })).LimitExceeded);
        Assert.True(Assert.Throws<MalformedInputException>(() => Open(bytes, new TarLimits { MaxMetadataBytes = 10 })).LimitExceeded);
    }
}
