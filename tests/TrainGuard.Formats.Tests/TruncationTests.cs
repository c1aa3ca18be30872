using TrainGuard.Formats.Numpy;
using TrainGuard.Formats.Safetensors;
using TrainGuard.Formats.SevenZip;
using TrainGuard.Formats.Tar;
using TrainGuard.Formats.Tests.Support;
using TrainGuard.Formats.Zip;
using TrainGuard.Parsing;

namespace TrainGuard.Formats.Tests;

/// <summary>Cutting a small valid file at every position gives MalformedInputException with an offset, never another exception.</summary>
public class TruncationTests
{
    private static void AssertEveryCutIsMalformed(byte[] file, int validFrom, Action<byte[]> parse)
    {
        parse(file);
        for (var cut = 0; cut < file.Length; cut++)
        {
            var prefix = file[..cut];
            try
            {
                parse(prefix);
                Assert.True(cut >= validFrom, $"cut at {cut} of {file.Length} parsed without error");
            }
            catch (MalformedInputException ex)
            {
                Assert.True(ex.Offset is not null, $"cut at {cut}: no offset in '{ex.Message}'");
                Assert.True(cut < validFrom, $"cut at {cut} (after the end marker at {validFrom}) failed: {ex.Message}");
            }
            catch (Exception ex)
            {
                Assert.Fail($"cut at {cut} of {file.Length}: {ex.GetType().Name}: {ex.Message}\n{Fixture.Hex(prefix)}");
            }
        }
    }

    private static void ReadZip(byte[] data)
    {
        using var zip = ZipReader.Open(new MemoryStream(data), ZipLimits.Default);
        foreach (var entry in zip.Entries)
        {
            _ = zip.ReadEntry(entry, 1 << 20);
        }
    }

    [Theory]
    [InlineData("torch/zip_checkpoint.pt")]
    [InlineData("npz/arrays.npz")]
    [InlineData("npz/arrays_compressed.npz")]
    public void Zip_cut_anywhere_is_malformed(string fixture)
    {
        var file = Fixture.Bytes(fixture);
        AssertEveryCutIsMalformed(file, file.Length, ReadZip);
    }

    [Fact]
    public void System_zip_with_deflate_cut_anywhere_is_malformed()
    {
        var file = ZipBuilder.SystemZip(("a/data.pkl", new byte[300], System.IO.Compression.CompressionLevel.Optimal), ("a/data/0", [1, 2, 3], System.IO.Compression.CompressionLevel.NoCompression));
        AssertEveryCutIsMalformed(file, file.Length, ReadZip);
    }

    [Theory]
    [InlineData("tar/gnu_longname.tar")]
    [InlineData("tar/pax_longname.tar")]
    [InlineData("tar/ustar.tar")]
    [InlineData("tar/v7.tar")]
    public void Tar_cut_before_its_end_marker_is_malformed(string fixture)
    {
        var file = Fixture.Bytes(fixture);
        long end;
        using (var tar = TarReader.Open(new MemoryStream(file), TarLimits.Default))
        {
            end = tar.EndOffset;
        }

        AssertEveryCutIsMalformed(file, (int)end, data =>
        {
            using var tar = TarReader.Open(new MemoryStream(data), TarLimits.Default);
            foreach (var entry in tar.Entries)
            {
                _ = tar.ReadEntry(entry, 1 << 20);
            }
        });
    }

    [Theory]
    [InlineData("npy/benign_f4.npy")]
    [InlineData("npy/fortran_f8.npy")]
    [InlineData("npy/structured.npy")]
    [InlineData("npy/v2.npy")]
    [InlineData("npy/v3.npy")]
    public void Npy_cut_anywhere_is_malformed(string fixture)
    {
        var file = Fixture.Bytes(fixture);
        AssertEveryCutIsMalformed(file, file.Length, data => NpyHeader.Parse(data).CheckDataLength(data.Length));
    }

    [Fact]
    public void Object_npy_header_cut_anywhere_is_malformed()
    {
        var file = Fixture.Bytes("npy/object.npy");
        var dataOffset = (int)NpyHeader.Parse(file).DataOffset;
        AssertEveryCutIsMalformed(file[..dataOffset], dataOffset, data => NpyHeader.Parse(data));
    }

    [Theory]
    [InlineData("safetensors/valid.safetensors")]
    [InlineData("safetensors/valid_padded.safetensors")]
    [InlineData("safetensors/valid_f4.safetensors")]
    public void Safetensors_cut_anywhere_is_malformed(string fixture)
    {
        var file = Fixture.Bytes(fixture);
        AssertEveryCutIsMalformed(file, file.Length, data => SafetensorsReader.Validate(new MemoryStream(data), data.Length, SafetensorsLimits.Default));
        AssertEveryCutIsMalformed(file, file.Length, data => SafetensorsReader.Validate(data, SafetensorsLimits.Default));
    }

    [Fact]
    public void SevenZip_cut_anywhere_is_malformed()
    {
        var file = Fixture.Bytes("7z/sample.7z");
        AssertEveryCutIsMalformed(file, file.Length, data =>
        {
            using var archive = SevenZipReader.Open(new MemoryStream(data), ZipLimits.Default);
            foreach (var entry in archive.Entries)
            {
                _ = archive.ReadEntry(entry, 1 << 20);
            }
        });
    }
}
