using System.Buffers.Binary;
using System.IO.Compression;
using BenchmarkDotNet.Attributes;
using TrainGuard.Formats.Zip;
using TrainGuard.Scanning.Scanner;

namespace TrainGuard.Benchmarks;

/// <summary>
/// <c>trainguard scan</c> on a multi-GB torch zip checkpoint: only the pickles and headers are read, never
/// the tensor bytes (target: well under a second). The checkpoint is a real torch zip from the fixtures
/// with three stored 1.2 GB tensor storages added (sparse on disk, so setup is quick).
/// </summary>
[MemoryDiagnoser]
public class ScannerBenchmarks
{
    private const long StorageBytes = 1_200_000_000;
    private string _dir = string.Empty;
    private string _checkpoint = string.Empty;
    private ArtifactScanner _scanner = null!;

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("tg-bench-scan-").FullName;
        _checkpoint = Path.Combine(_dir, "pytorch_model.bin");
        BigCheckpoint.Write(_checkpoint, FixturePath("benign", "tiny-model-state-dict.pt"), storages: 3, StorageBytes);
        _scanner = new ArtifactScanner(new ScanOptions { Parallelism = 1 });
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_dir, recursive: true);

    [Benchmark]
    public int ScanMultiGigabyteTorchCheckpoint() =>
        _scanner.Scan(new ScanTarget(_checkpoint, _checkpoint, InCheckpointFolder: true)).Findings.Count;

    internal static string FixturePath(params string[] parts)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TrainGuard.slnx")))
            {
                return Path.Combine([dir.FullName, "tests", "fixtures", .. parts]);
            }
        }

        throw new DirectoryNotFoundException("TrainGuard.slnx not found");
    }
}

/// <summary>Writes a torch zip whose storages are huge runs of zeros, written sparse (seek, not write).</summary>
internal static class BigCheckpoint
{
    public static void Write(string path, string template, int storages, long storageBytes)
    {
        using var source = ZipFile.OpenRead(template);
        var members = source.Entries.Select(e =>
        {
            using var s = e.Open();
            using var m = new MemoryStream();
            s.CopyTo(m);
            return (e.FullName, m.ToArray());
        }).ToList();
        var root = members[0].FullName[..members[0].FullName.IndexOf('/', StringComparison.Ordinal)];

        // CRC-32 of the zero run, computed once in 1 MiB steps.
        var zeros = new byte[1 << 20];
        uint crc = 0;
        for (long done = 0; done < storageBytes; done += zeros.Length)
        {
            crc = Crc32.Append(crc, zeros.AsSpan(0, (int)Math.Min(zeros.Length, storageBytes - done)));
        }

        using var file = new FileStream(path, FileMode.Create, FileAccess.Write);
        var central = new MemoryStream();
        var count = 0;
        void Add(string name, ReadOnlySpan<byte> data, long size, uint entryCrc)
        {
            var offset = file.Position;
            var nameBytes = System.Text.Encoding.UTF8.GetBytes(name);
            Span<byte> local = stackalloc byte[30];
            BinaryPrimitives.WriteUInt32LittleEndian(local, 0x04034b50);
            BinaryPrimitives.WriteUInt16LittleEndian(local[4..], 20);
            BinaryPrimitives.WriteUInt32LittleEndian(local[14..], entryCrc);
            BinaryPrimitives.WriteUInt32LittleEndian(local[18..], checked((uint)size));
            BinaryPrimitives.WriteUInt32LittleEndian(local[22..], checked((uint)size));
            BinaryPrimitives.WriteUInt16LittleEndian(local[26..], checked((ushort)nameBytes.Length));
            file.Write(local);
            file.Write(nameBytes);
            if (data.IsEmpty)
            {
                file.Seek(size, SeekOrigin.Current);
                file.SetLength(file.Position);
            }
            else
            {
                file.Write(data);
            }

            Span<byte> header = stackalloc byte[46];
            BinaryPrimitives.WriteUInt32LittleEndian(header, 0x02014b50);
            BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 20);
            BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 20);
            BinaryPrimitives.WriteUInt32LittleEndian(header[16..], entryCrc);
            BinaryPrimitives.WriteUInt32LittleEndian(header[20..], checked((uint)size));
            BinaryPrimitives.WriteUInt32LittleEndian(header[24..], checked((uint)size));
            BinaryPrimitives.WriteUInt16LittleEndian(header[28..], checked((ushort)nameBytes.Length));
            BinaryPrimitives.WriteUInt32LittleEndian(header[42..], checked((uint)offset));
            central.Write(header);
            central.Write(nameBytes);
            count++;
        }

        foreach (var (name, data) in members)
        {
            Add(name, data, data.Length, Crc32.Compute(data));
        }

        for (var i = 0; i < storages; i++)
        {
            Add($"{root}/data/big{i}", [], storageBytes, crc);
        }

        var centralOffset = file.Position;
        file.Write(central.ToArray());
        Span<byte> end = stackalloc byte[22];
        BinaryPrimitives.WriteUInt32LittleEndian(end, 0x06054b50);
        BinaryPrimitives.WriteUInt16LittleEndian(end[8..], checked((ushort)count));
        BinaryPrimitives.WriteUInt16LittleEndian(end[10..], checked((ushort)count));
        BinaryPrimitives.WriteUInt32LittleEndian(end[12..], checked((uint)central.Length));
        BinaryPrimitives.WriteUInt32LittleEndian(end[16..], checked((uint)centralOffset));
        file.Write(end);
    }
}
