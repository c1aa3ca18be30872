using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using BenchmarkDotNet.Attributes;
using TrainGuard.Checkpoints.Torch;

namespace TrainGuard.Benchmarks;

/// <summary>
/// Opening a 3.6 GB torch zip checkpoint and listing its tensors (what <c>ckpt inspect</c> and <c>ckpt convert</c>
/// start with) reads only its pickle and zip directory, never the tensor bytes. The checkpoint's data.pkl
/// references three float32 storages of 1.2 GB (300M elements each, written sparse so setup is quick) and a
/// transposed view of one of them. Setup opens it once through a byte-counting stream and prints how many bytes
/// were read and the process's working set, so the claim is checked, not assumed.
/// Run: <c>dotnet run -c Release --project bench/TrainGuard.Benchmarks -- --filter *CkptInspectBenchmarks* --inProcess</c>.
/// Measured (2-core EPYC VM, .NET 10): 256 us and 153 KB allocated per open + list; 71,163 of 3,600,001,510 bytes
/// read; working set 80 MB (the runtime's own baseline was 79 MB).
/// </summary>
[MemoryDiagnoser]
public class CkptInspectBenchmarks
{
    private const int Storages = 3;
    private const long Rows = 20_000;
    private const long Columns = 15_000;
    private const long StorageBytes = Rows * Columns * 4;
    private string _dir = string.Empty;
    private string _checkpoint = string.Empty;

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("tg-bench-ckpt-").FullName;
        var template = Path.Combine(_dir, "template.pt");
        File.WriteAllBytes(template, TemplateZip());
        _checkpoint = Path.Combine(_dir, "pytorch_model.bin");
        BigCheckpoint.Write(_checkpoint, template, Storages, StorageBytes);

        var before = Process.GetCurrentProcess().WorkingSet64;
        using var file = File.OpenRead(_checkpoint);
        using var counting = new CountingStream(file);
        using (var ckpt = TorchCheckpoint.Open(counting))
        {
            if (ckpt.Tensors.Count != Storages + 1 || ckpt.Tensors[0].ByteSize != StorageBytes)
            {
                throw new InvalidOperationException("the benchmark checkpoint did not read as expected");
            }
        }

        var after = Process.GetCurrentProcess();
        Console.WriteLine($"// ckpt open + tensor list: read {counting.BytesRead:N0} of {file.Length:N0} bytes; working set {before / (1 << 20)} MB before, {after.WorkingSet64 / (1 << 20)} MB after (peak {after.PeakWorkingSet64 / (1 << 20)} MB)");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Console.WriteLine($"// peak working set of the benchmark process: {Process.GetCurrentProcess().PeakWorkingSet64 / (1 << 20)} MB");
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(Description = "open a 3.6 GB torch zip checkpoint and list its tensors")]
    public long OpenAndListTensors()
    {
        using var ckpt = TorchCheckpoint.Open(_checkpoint);
        long total = 0;
        foreach (var t in ckpt.Tensors)
        {
            total += t.ByteSize;
        }

        return total;
    }

    /// <summary>A torch zip whose data.pkl names storages big0..big2 (BigCheckpoint adds their sparse members).</summary>
    private static byte[] TemplateZip()
    {
        var p = new List<byte> { 0x80, 2 };
        Global(p, "collections", "OrderedDict");
        p.AddRange(")R("u8.ToArray());
        for (var i = 0; i <= Storages; i++)
        {
            var storage = i == Storages ? 0 : i;
            var transposed = i == Storages;
            Str(p, transposed ? "layer0.weight_t" : $"layer{i}.weight");
            Global(p, "torch._utils", "_rebuild_tensor_v2");
            p.AddRange("(("u8.ToArray());
            Str(p, "storage");
            Global(p, "torch", "FloatStorage");
            Str(p, $"big{storage}");
            Str(p, "cpu");
            Int(p, Rows * Columns);
            p.AddRange("tQ"u8.ToArray());
            Int(p, 0);
            p.Add((byte)'(');
            Int(p, transposed ? Columns : Rows);
            Int(p, transposed ? Rows : Columns);
            p.Add((byte)'t');
            p.Add((byte)'(');
            Int(p, transposed ? 1 : Columns);
            Int(p, transposed ? Columns : 1);
            p.Add((byte)'t');
            p.Add(0x89);
            Global(p, "collections", "OrderedDict");
            p.AddRange(")Rt"u8.ToArray());
            p.Add((byte)'R');
        }

        p.AddRange("u."u8.ToArray());
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, data) in new[] { ("archive/data.pkl", p.ToArray()), ("archive/byteorder", "little"u8.ToArray()), ("archive/version", "3\n"u8.ToArray()) })
            {
                using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
                s.Write(data);
            }
        }

        return ms.ToArray();
    }

    private static void Global(List<byte> p, string module, string name) => p.AddRange(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));

    private static void Str(List<byte> p, string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        p.Add((byte)'X');
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(n, b.Length);
        p.AddRange(n);
        p.AddRange(b);
    }

    private static void Int(List<byte> p, long v)
    {
        p.Add(0x8a);
        p.Add(8);
        Span<byte> l = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(l, v);
        p.AddRange(l);
    }

    /// <summary>Counts the bytes read through it.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long BytesRead { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length => inner.Length;

        public override long Position
        {
            get => inner.Position;
            set => inner.Position = value;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = inner.Read(buffer);
            BytesRead += n;
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
