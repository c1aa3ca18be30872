using System.IO.Compression;
using System.Text;
using TrainGuard.Formats.Detection;
using TrainGuard.Formats.Numpy;
using TrainGuard.Formats.Tests.Support;
using TrainGuard.Formats.Zip;
using TrainGuard.Parsing;

namespace TrainGuard.Formats.Tests.Zip;

public class ZipReaderTests
{
    private static ZipReader Open(byte[] data, ZipLimits? limits = null) => ZipReader.Open(new MemoryStream(data), limits ?? ZipLimits.Default);

    private static readonly byte[] Payload = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("tensor bytes and more tensor bytes ", 200)));

    [Fact]
    public void Benign_system_zip_reads_without_discrepancies_or_issues()
    {
        var data = ZipBuilder.SystemZip(("archive/data.pkl", Payload, CompressionLevel.Optimal), ("archive/data/0", Payload, CompressionLevel.NoCompression));
        using var zip = Open(data);

        Assert.Equal(["archive/data.pkl", "archive/data/0"], zip.Entries.Select(e => e.Name));
        Assert.Empty(zip.Discrepancies);
        Assert.Empty(zip.Issues);
        Assert.Empty(zip.HiddenEntries);
        Assert.Equal(ZipReader.MethodDeflate, zip.Entries[0].Method);
        Assert.Equal(ZipReader.MethodStored, zip.Entries[1].Method);
        foreach (var entry in zip.Entries)
        {
            Assert.Equal(Payload, zip.ReadEntry(entry, 1 << 20));
        }
    }

    [Fact]
    public void Stored_entry_data_offset_allows_reading_by_seeking()
    {
        var data = ZipBuilder.SystemZip(("a/data/0", Payload, CompressionLevel.NoCompression));
        using var zip = Open(data);
        var entry = zip.Entries.Single();

        Assert.True(entry.IsStored);
        Assert.Equal(Payload, data.AsSpan((int)entry.DataOffset, (int)entry.CompressedSize).ToArray());
    }

    [Fact]
    public void ReadHead_returns_only_the_first_bytes()
    {
        var data = ZipBuilder.SystemZip(("big", Payload, CompressionLevel.Optimal));
        using var zip = Open(data);

        Assert.Equal(Payload.AsSpan(0, 16).ToArray(), zip.ReadHead(zip.Entries[0], 16));
        Assert.Equal(Payload, zip.ReadHead(zip.Entries[0], 1 << 20));
    }

    [Fact]
    public void Torch_zip_checkpoint_with_data_descriptors_has_no_discrepancies()
    {
        using var zip = Open(Fixture.Bytes("torch/zip_checkpoint.pt"));

        Assert.Empty(zip.Discrepancies);
        Assert.Empty(zip.Issues);
        var pickle = zip.Entries.Single(e => e.Name.EndsWith("/data.pkl", StringComparison.Ordinal));
        Assert.Equal(DetectedFormat.Pickle, FormatDetector.Detect(zip.ReadEntry(pickle, 1 << 20), pickle.UncompressedSize));
        Assert.Contains(zip.Entries, e => e.Name.EndsWith("/data/0", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("npz/arrays.npz")]
    [InlineData("npz/arrays_compressed.npz")]
    public void Npz_members_are_npy_arrays_read_through_the_zip_reader(string fixture)
    {
        using var zip = Open(Fixture.Bytes(fixture));

        Assert.Empty(zip.Discrepancies);
        Assert.NotEmpty(zip.Entries);
        foreach (var entry in zip.Entries)
        {
            Assert.EndsWith(".npy", entry.Name, StringComparison.Ordinal);
            var bytes = zip.ReadEntry(entry, 1 << 20);
            var header = NpyHeader.Parse(bytes);
            Assert.False(header.IsObjectDtype);
            Assert.Equal(bytes.Length, header.DataOffset + header.DataByteLength);
        }
    }

    [Fact]
    public void Npz_with_an_object_member_reports_that_member_as_object_dtype()
    {
        using var zip = Open(Fixture.Bytes("npz/with_object.npz"));
        var names = zip.Entries.Single(e => e.Name == "names.npy");

        Assert.True(NpyHeader.Parse(zip.ReadEntry(names, 1 << 20)).IsObjectDtype);
        Assert.False(NpyHeader.Parse(zip.ReadEntry(zip.Entries.Single(e => e.Name == "ok.npy"), 1 << 20)).IsObjectDtype);
    }

    [Fact]
    public void Local_and_central_name_mismatch_is_a_discrepancy()
    {
        var builder = new ZipBuilder();
        builder.Add("archive/data.pkl", "benign").LocalName = "archive/evil.pkl";
        using var zip = Open(builder.Build());

        var discrepancy = Assert.Single(zip.Discrepancies);
        Assert.Equal("name", discrepancy.Field);
        Assert.Equal("archive/data.pkl", discrepancy.CentralValue);
        Assert.Equal("archive/evil.pkl", discrepancy.LocalValue);
        Assert.Equal("archive/evil.pkl", zip.Entries[0].LocalName);
    }

    [Fact]
    public void Local_and_central_size_mismatch_is_a_discrepancy()
    {
        var builder = new ZipBuilder();
        var item = builder.Add("data.pkl", "0123456789");
        item.LocalCompressedSize = 4;
        item.LocalUncompressedSize = 4;
        using var zip = Open(builder.Build());

        Assert.Contains(zip.Discrepancies, d => d.Field == "compressed size" && d.CentralValue == "10" && d.LocalValue == "4");
        Assert.Contains(zip.Discrepancies, d => d.Field == "uncompressed size");
    }

    [Fact]
    public void Method_flags_and_crc_mismatches_are_discrepancies()
    {
        var builder = new ZipBuilder();
        var item = builder.Add("data.pkl", "payload");
        item.LocalMethod = ZipReader.MethodDeflate;
        item.LocalFlags = 0x0800;
        item.LocalCrc = 0xdeadbeef;
        using var zip = Open(builder.Build());

        Assert.Equal(["method", "flags", "crc32"], zip.Discrepancies.Select(d => d.Field));
    }

    [Fact]
    public void Wrong_crc_in_both_headers_fails_when_the_entry_is_read_to_the_end()
    {
        var builder = new ZipBuilder();
        var item = builder.Add("data.pkl", Payload, ZipReader.MethodDeflate);
        item.LocalCrc = 0x12345678;
        item.CentralCrc = 0x12345678;
        using var zip = Open(builder.Build());

        var ex = Assert.Throws<MalformedInputException>(() => zip.ReadEntry(zip.Entries[0], 1 << 20));
        Assert.Contains("CRC-32", ex.Message, StringComparison.Ordinal);
        Assert.Equal("data.pkl", ex.Member);
        Assert.NotNull(ex.Offset);
    }

    [Fact]
    public void Local_entry_not_in_the_central_directory_is_reported_and_readable()
    {
        var builder = new ZipBuilder();
        builder.Add("archive/data.pkl", "benign");
        builder.Add("archive/hidden.pkl", "cos\nsystem\n(S'echo pwned'\ntR.").InCentralDirectory = false;
        builder.Add("archive/version", "3");
        using var zip = Open(builder.Build());

        Assert.Equal(["archive/data.pkl", "archive/version"], zip.Entries.Select(e => e.Name));
        var issue = Assert.Single(zip.Issues);
        Assert.Equal(ZipIssueKind.HiddenLocalEntry, issue.Kind);
        Assert.Equal("archive/hidden.pkl", issue.EntryName);
        var hidden = Assert.Single(zip.HiddenEntries);
        Assert.True(hidden.IsHidden);
        Assert.Equal("cos\nsystem\n(S'echo pwned'\ntR."u8.ToArray(), zip.ReadEntry(hidden, 1024));
    }

    [Fact]
    public void Two_central_entries_sharing_one_local_header_overlap()
    {
        var builder = new ZipBuilder();
        builder.Add("data.pkl", "shared bytes").AliasName = "other.pkl";
        using var zip = Open(builder.Build());

        Assert.Contains(zip.Issues, i => i.Kind == ZipIssueKind.OverlappingEntries);
        Assert.Contains(zip.Discrepancies, d => d.Field == "name" && d.CentralValue == "other.pkl");
    }

    [Fact]
    public void Duplicate_names_are_reported()
    {
        var builder = new ZipBuilder();
        builder.Add("archive/data.pkl", "first");
        builder.Add("archive/data.pkl", "second");
        using var zip = Open(builder.Build());

        var issue = Assert.Single(zip.Issues);
        Assert.Equal(ZipIssueKind.DuplicateName, issue.Kind);
        Assert.Equal(2, zip.Entries.Count);
    }

    [Theory]
    [InlineData("../../etc/cron.d/job")]
    [InlineData("/etc/passwd")]
    [InlineData("a/..\\..\\b")]
    [InlineData("C:evil")]
    [InlineData("name\nwith newline")]
    public void Unsafe_member_names_are_reported(string name)
    {
        var builder = new ZipBuilder();
        builder.Add(name, "x");
        using var zip = Open(builder.Build());

        Assert.Equal(ZipIssueKind.UnsafePath, Assert.Single(zip.Issues).Kind);
    }

    [Fact]
    public void Encrypted_entry_is_reported_and_refused()
    {
        var builder = new ZipBuilder();
        builder.Add("secret.pkl", "ciphertext").Flags = 0x0001;
        using var zip = Open(builder.Build());

        Assert.Equal(ZipIssueKind.Encrypted, Assert.Single(zip.Issues).Kind);
        Assert.True(zip.Entries[0].IsEncrypted);
        var ex = Assert.Throws<MalformedInputException>(() => zip.OpenEntry(zip.Entries[0]));
        Assert.Equal("secret.pkl", ex.Member);
    }

    [Fact]
    public void Unsupported_method_is_reported_and_refused()
    {
        var builder = new ZipBuilder();
        builder.Add("data.bz2", "BZh9").Method = 12;
        using var zip = Open(builder.Build());

        Assert.Equal(ZipIssueKind.UnsupportedMethod, Assert.Single(zip.Issues).Kind);
        Assert.Throws<MalformedInputException>(() => zip.OpenEntry(zip.Entries[0]));
    }

    [Fact]
    public void Compression_ratio_over_the_limit_stops_inflation_with_the_member_named()
    {
        var builder = new ZipBuilder();
        builder.Add("bomb.bin", new byte[8 * 1024 * 1024], ZipReader.MethodDeflate);
        using var zip = Open(builder.Build(), new ZipLimits { MaxCompressionRatio = 100 });
        using var stream = zip.OpenEntry(zip.Entries[0]);

        var ex = Assert.Throws<MalformedInputException>(() => stream.CopyTo(Stream.Null));
        Assert.True(ex.LimitExceeded);
        Assert.Equal("bomb.bin", ex.Member);
        Assert.Contains("ratio", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Entry_size_limit_counts_actual_bytes()
    {
        var builder = new ZipBuilder();
        builder.Add("big.bin", Payload, ZipReader.MethodDeflate);
        using var zip = Open(builder.Build(), new ZipLimits { MaxEntryBytes = 1000 });
        using var stream = zip.OpenEntry(zip.Entries[0]);

        var ex = Assert.Throws<MalformedInputException>(() => stream.CopyTo(Stream.Null));
        Assert.True(ex.LimitExceeded);
        Assert.Equal("big.bin", ex.Member);
    }

    [Fact]
    public void Total_inflated_limit_applies_across_members()
    {
        var builder = new ZipBuilder();
        builder.Add("a", Payload, ZipReader.MethodDeflate);
        builder.Add("b", Payload, ZipReader.MethodDeflate);
        using var zip = Open(builder.Build(), new ZipLimits { MaxTotalInflatedBytes = Payload.Length + 100 });

        _ = zip.ReadEntry(zip.Entries[0], 1 << 20);
        var ex = Assert.Throws<MalformedInputException>(() => zip.ReadEntry(zip.Entries[1], 1 << 20));
        Assert.True(ex.LimitExceeded);
        Assert.Equal("b", ex.Member);
    }

    [Fact]
    public void Entry_inflating_past_its_declared_size_is_malformed()
    {
        var builder = new ZipBuilder();
        var item = builder.Add("lies.bin", Payload, ZipReader.MethodDeflate);
        item.CentralUncompressedSize = 100;
        item.LocalUncompressedSize = 100;
        using var zip = Open(builder.Build());
        using var stream = zip.OpenEntry(zip.Entries[0]);

        var ex = Assert.Throws<MalformedInputException>(() => stream.CopyTo(Stream.Null));
        Assert.False(ex.LimitExceeded);
        Assert.Contains("declared size", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadEntry_refuses_a_declared_size_unreachable_from_the_compressed_bytes_before_allocating()
    {
        var builder = new ZipBuilder();
        var item = builder.Add("liar.bin", new byte[100], ZipReader.MethodDeflate);
        item.CentralUncompressedSize = 1L << 30;
        item.LocalUncompressedSize = 1L << 30;
        using var zip = Open(builder.Build());

        var ex = Assert.Throws<MalformedInputException>(() => zip.ReadEntry(zip.Entries[0], int.MaxValue));
        Assert.True(ex.LimitExceeded);
        Assert.Contains("declared compression ratio", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadEntry_refuses_declared_sizes_over_its_cap_before_allocating()
    {
        var builder = new ZipBuilder();
        builder.Add("x", Payload);
        using var zip = Open(builder.Build());

        Assert.True(Assert.Throws<MalformedInputException>(() => zip.ReadEntry(zip.Entries[0], 10)).LimitExceeded);
    }

    [Fact]
    public void Zip64_entries_and_end_record_are_read()
    {
        var builder = new ZipBuilder { Zip64EndRecord = true };
        builder.Add("archive/data.pkl", Payload, ZipReader.MethodDeflate).Zip64 = true;
        builder.Add("archive/data/0", Payload).Zip64 = true;
        using var zip = Open(builder.Build());

        Assert.True(zip.IsZip64);
        Assert.All(zip.Entries, e => Assert.True(e.IsZip64));
        Assert.Empty(zip.Discrepancies);
        Assert.Empty(zip.Issues);
        Assert.Equal(Payload, zip.ReadEntry(zip.Entries[0], 1 << 20));
        Assert.Equal(Payload, zip.ReadEntry(zip.Entries[1], 1 << 20));
    }

    [Fact]
    public void Data_descriptor_entries_are_read_and_the_descriptor_is_compared()
    {
        var builder = new ZipBuilder();
        builder.Add("good", Payload, ZipReader.MethodDeflate).DataDescriptor = true;
        var bad = builder.Add("bad", "data");
        bad.DataDescriptor = true;
        bad.DescriptorCrc = 0xabad1dea;
        using var zip = Open(builder.Build());

        Assert.Equal(Payload, zip.ReadEntry(zip.Entries[0], 1 << 20));
        var discrepancy = Assert.Single(zip.Discrepancies);
        Assert.Equal("bad", discrepancy.EntryName);
        Assert.Equal("descriptor crc32", discrepancy.Field);
    }

    [Fact]
    public void Prefix_before_a_zip_with_relative_offsets_is_corrected_and_reported()
    {
        var builder = new ZipBuilder { Prefix = "#!/bin/sh\necho self-extractor\n"u8.ToArray(), OffsetsIncludePrefix = false };
        builder.Add("archive/data.pkl", Payload, ZipReader.MethodDeflate);
        var data = builder.Build();
        using var zip = Open(data);

        Assert.Equal(builder.Prefix.Length, zip.PrefixLength);
        Assert.Contains(zip.Issues, i => i.Kind == ZipIssueKind.PrefixData);
        Assert.Equal(Payload, zip.ReadEntry(zip.Entries[0], 1 << 20));
        Assert.Equal(DetectedFormat.Unknown, FormatDetector.Detect(data.AsSpan(0, Math.Min(data.Length, FormatDetector.HeadSize)), data.Length));
        Assert.Equal(DetectedFormat.Zip, FormatDetector.Detect(new MemoryStream(data)));
        Assert.True(ZipReader.TryFindEndOfCentralDirectory(new MemoryStream(data), out var endOffset));
        Assert.Equal(data.Length - 22, endOffset);
    }

    [Fact]
    public void Pickle_glued_in_front_of_a_zip_is_prefix_data_at_absolute_offsets()
    {
        var builder = new ZipBuilder { Prefix = "cos\nsystem\n(S'id'\ntR."u8.ToArray() };
        builder.Add("archive/data.pkl", "benign");
        var data = builder.Build();
        using var zip = Open(data);

        Assert.Equal(0, zip.PrefixLength);
        Assert.Contains(zip.Issues, i => i.Kind == ZipIssueKind.PrefixData);
        Assert.Equal(DetectedFormat.Pickle, FormatDetector.Detect(data, data.Length));
    }

    [Fact]
    public void Data_after_the_end_record_is_reported()
    {
        var builder = new ZipBuilder { Trailer = "appended"u8.ToArray() };
        builder.Add("a", "x");
        using var zip = Open(builder.Build());

        Assert.Contains(zip.Issues, i => i.Kind == ZipIssueKind.TrailingData);
        Assert.Single(zip.Entries);
    }

    [Fact]
    public void Stored_zip_inside_a_zip_is_not_mistaken_for_the_outer_end_record()
    {
        var inner = new ZipBuilder();
        inner.Add("inner/data.pkl", "x");
        var outer = new ZipBuilder();
        outer.Add("nested.zip", inner.Build());
        using var zip = Open(outer.Build());

        Assert.Empty(zip.Issues);
        Assert.Equal("nested.zip", Assert.Single(zip.Entries).Name);
    }

    [Fact]
    public void Second_end_record_signature_inside_the_comment_is_reported()
    {
        var fake = new byte[22];
        "PK\x05\x06"u8.CopyTo(fake);
        var builder = new ZipBuilder { Comment = System.Text.Encoding.Latin1.GetString(fake) + "tail" };
        builder.Add("a", "x");
        using var zip = Open(builder.Build());

        Assert.Equal("a", Assert.Single(zip.Entries).Name);
        Assert.Contains(zip.Issues, i => i.Kind == ZipIssueKind.TrailingData);
    }

    [Fact]
    public void Fake_empty_end_record_at_the_very_end_leaves_the_real_entries_reported_as_hidden()
    {
        var fake = new byte[22];
        "PK\x05\x06"u8.CopyTo(fake);
        var builder = new ZipBuilder { Comment = System.Text.Encoding.Latin1.GetString(fake) };
        builder.Add("archive/data.pkl", "x");
        using var zip = Open(builder.Build());

        Assert.Empty(zip.Entries);
        Assert.Contains(zip.Issues, i => i.Kind == ZipIssueKind.HiddenLocalEntry && i.EntryName == "archive/data.pkl");
        Assert.Equal("archive/data.pkl", Assert.Single(zip.HiddenEntries).Name);
    }

    [Fact]
    public void Archive_comment_is_read()
    {
        var builder = new ZipBuilder { Comment = "made by a test" };
        builder.Add("a", "x");
        using var zip = Open(builder.Build());

        Assert.Equal("made by a test", zip.Comment);
        Assert.Empty(zip.Issues);
    }

    [Fact]
    public void Empty_zip_has_no_entries()
    {
        var data = new ZipBuilder().Build();
        using var zip = Open(data);

        Assert.Empty(zip.Entries);
        Assert.Equal(DetectedFormat.Zip, FormatDetector.Detect(data, data.Length));
    }

    [Fact]
    public void Declared_entry_count_different_from_the_directory_is_reported()
    {
        var builder = new ZipBuilder { DeclaredEntryCount = 1 };
        builder.Add("a", "x");
        builder.Add("b", "y");
        using var zip = Open(builder.Build());

        Assert.Contains(zip.Issues, i => i.Kind == ZipIssueKind.EntryCountMismatch);
    }

    [Fact]
    public void Entry_count_over_the_limit_is_refused()
    {
        var builder = new ZipBuilder();
        for (var i = 0; i < 5; i++)
        {
            builder.Add($"e{i}", "x");
        }

        var ex = Assert.Throws<MalformedInputException>(() => Open(builder.Build(), new ZipLimits { MaxEntries = 3 }));
        Assert.True(ex.LimitExceeded);
    }

    [Fact]
    public void Unicode_path_extra_that_renames_the_entry_is_a_discrepancy()
    {
        var builder = new ZipBuilder();
        var item = builder.Add("data.pkl", "x");
        var alternative = "evil.pkl"u8.ToArray();
        var extra = new byte[4 + 5 + alternative.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(extra, 0x7075);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(extra.AsSpan(2), (ushort)(5 + alternative.Length));
        extra[4] = 1;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(extra.AsSpan(5), Crc32.Compute("data.pkl"u8));
        alternative.CopyTo(extra, 9);
        item.CentralExtra = extra;
        using var zip = Open(builder.Build());

        var discrepancy = Assert.Single(zip.Discrepancies);
        Assert.Equal("unicode path extra", discrepancy.Field);
        Assert.Equal("evil.pkl", discrepancy.LocalValue);
    }

    [Fact]
    public void Central_entry_pointing_outside_the_file_is_an_unreadable_member_with_an_offset_and_the_others_still_open()
    {
        var data = ZipBuilder.SystemZip(("a", Payload, CompressionLevel.NoCompression), ("b", Payload, CompressionLevel.NoCompression));
        var central = data.AsSpan().IndexOf("PK\x01\x02"u8);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(central + 42), 0x7fff0000);

        using var zip = Open(data);

        var issue = Assert.Single(zip.Issues, i => i.Kind == ZipIssueKind.UnreadableEntry);
        Assert.Equal("a", issue.EntryName);
        Assert.NotNull(zip.Entries[0].Problem);
        var ex = Assert.Throws<MalformedInputException>(() => zip.ReadEntry(zip.Entries[0], 1 << 20));
        Assert.NotNull(ex.Offset);
        Assert.Equal(Payload, zip.ReadEntry(zip.Entries[1], 1 << 20));
    }

    [Fact]
    public void A_loader_read_returns_the_bytes_of_a_member_whose_crc_is_wrong_and_reports_the_damage()
    {
        var data = ZipBuilder.SystemZip(("archive/data.pkl", Payload, CompressionLevel.NoCompression));
        var central = data.AsSpan().IndexOf("PK\x01\x02"u8);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(central + 16), 0);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(14), 0);
        using var zip = Open(data);

        Assert.Throws<MalformedInputException>(() => zip.ReadEntry(zip.Entries[0], 1 << 20));
        var read = zip.ReadEntryAsLoader(zip.Entries[0], 1 << 20);

        Assert.Equal(Payload, read.Data);
        var damage = Assert.Single(read.Damage);
        Assert.Equal(ZipDamageKind.BadCrc, damage.Kind);
        Assert.Contains("CRC-32", damage.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_loader_read_keeps_what_deflate_data_corrupt_part_way_produced()
    {
        var big = Enumerable.Range(0, 200_000).Select(i => (byte)(i * 7 % 251)).ToArray();
        var data = ZipBuilder.SystemZip(("m.bin", big, CompressionLevel.Optimal));
        var local = 30 + "m.bin".Length;
        var compressed = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(18));
        for (var i = local + (compressed / 2); i < local + compressed; i++)
        {
            data[i] = 0xff;
        }

        using var zip = Open(data);
        var read = zip.ReadEntryAsLoader(zip.Entries[0], 1 << 20);

        Assert.Contains(read.Damage, d => d.Kind is ZipDamageKind.CorruptData or ZipDamageKind.BadCrc or ZipDamageKind.SizeMismatch);
        Assert.True(read.Data.Length > 0);
        Assert.Equal(big.AsSpan(0, Math.Min(1000, read.Data.Length)).ToArray(), read.Data.AsSpan(0, Math.Min(1000, read.Data.Length)).ToArray());
    }

    [Fact]
    public void A_local_header_with_zip64_sentinels_but_no_zip64_field_is_a_discrepancy_not_a_failure()
    {
        var data = ZipBuilder.SystemZip(("archive/data.pkl", Payload, CompressionLevel.NoCompression));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(18), uint.MaxValue);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(22), uint.MaxValue);

        using var zip = Open(data);

        Assert.Contains(zip.Discrepancies, d => d.Field.Contains("size", StringComparison.Ordinal));
        Assert.Equal(Payload, zip.ReadEntry(zip.Entries[0], 1 << 20));
    }

    [Fact]
    public void Not_a_zip_is_malformed()
    {
        var ex = Assert.Throws<MalformedInputException>(() => Open(Encoding.ASCII.GetBytes(new string('x', 100))));
        Assert.Contains("end-of-central-directory", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Crc32_matches_the_standard_check_value()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
        Assert.Equal(Crc32.Compute(Payload), Crc32.Append(Crc32.Compute(Payload.AsSpan(0, 1001)), Payload.AsSpan(1001)));
    }
}
