using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace TrainGuard.Checkpoints.Tests.Torch;

/// <summary>Assembles small torch checkpoints byte by byte (zip: data.pkl + data/&lt;key&gt;; legacy: the pickle sequence), for hostile cases.</summary>
public static class TinyTorch
{
    public sealed record Tensor(string Name, string StorageType, string Key, long Numel, long Offset, long[] Size, long[] Stride);

    /// <summary>A protocol-2 pickle of an OrderedDict of <c>_rebuild_tensor_v2</c> calls, in the form torch writes.</summary>
    public static byte[] StateDictPickle(IEnumerable<Tensor> tensors, Action<List<byte>>? extraItems = null)
    {
        var p = new List<byte> { 0x80, 2 };
        Global(p, "collections", "OrderedDict");
        p.Add((byte)')');
        p.Add((byte)'R');
        p.Add((byte)'(');
        foreach (var t in tensors)
        {
            Str(p, t.Name);
            Global(p, "torch._utils", "_rebuild_tensor_v2");
            p.Add((byte)'(');
            p.Add((byte)'(');
            Str(p, "storage");
            Global(p, "torch", t.StorageType);
            Str(p, t.Key);
            Str(p, "cpu");
            Int(p, t.Numel);
            p.Add((byte)'t');
            p.Add((byte)'Q');
            Int(p, t.Offset);
            Tuple(p, t.Size);
            Tuple(p, t.Stride);
            p.Add(0x89);
            Global(p, "collections", "OrderedDict");
            p.Add((byte)')');
            p.Add((byte)'R');
            p.Add((byte)'t');
            p.Add((byte)'R');
        }

        extraItems?.Invoke(p);
        p.Add((byte)'u');
        p.Add((byte)'.');
        return [.. p];
    }

    public static byte[] Zip(byte[] dataPkl, IReadOnlyDictionary<string, byte[]> storages, string root = "archive", string byteorder = "little")
    {
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            Add(zip, root + "/data.pkl", dataPkl);
            Add(zip, root + "/byteorder", Encoding.ASCII.GetBytes(byteorder));
            foreach (var (key, bytes) in storages)
            {
                Add(zip, root + "/data/" + key, bytes);
            }

            Add(zip, root + "/version", "3\n"u8.ToArray());
        }

        return ms.ToArray();
    }

    /// <summary>A legacy (non-zip) torch file: magic, protocol, sys_info, object, keys pickles, then count + bytes per storage.</summary>
    public static byte[] Legacy(byte[] objectPickle, IReadOnlyList<(string Key, long Count, byte[] Bytes)> storages)
    {
        var f = new List<byte>();
        f.AddRange([0x80, 2, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, (byte)'.']);
        f.AddRange([0x80, 2, (byte)'M', 0xe9, 0x03, (byte)'.']);
        var sys = new List<byte> { 0x80, 2, (byte)'}', (byte)'(' };
        Str(sys, "protocol_version");
        Int(sys, 1001);
        Str(sys, "little_endian");
        sys.Add(0x88);
        sys.Add((byte)'u');
        sys.Add((byte)'.');
        f.AddRange(sys);
        f.AddRange(objectPickle);
        var keys = new List<byte> { 0x80, 2, (byte)']', (byte)'(' };
        foreach (var s in storages)
        {
            Str(keys, s.Key);
        }

        keys.Add((byte)'e');
        keys.Add((byte)'.');
        f.AddRange(keys);
        foreach (var s in storages)
        {
            var n = new byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(n, s.Count);
            f.AddRange(n);
            f.AddRange(s.Bytes);
        }

        return [.. f];
    }

    public static byte[] Floats(params float[] values)
    {
        var b = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(i * 4), values[i]);
        }

        return b;
    }

    public static void Str(List<byte> p, string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        p.Add((byte)'X');
        var n = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(n, b.Length);
        p.AddRange(n);
        p.AddRange(b);
    }

    public static void Int(List<byte> p, long v)
    {
        if (v is >= int.MinValue and <= int.MaxValue)
        {
            p.Add((byte)'J');
            var n = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(n, (int)v);
            p.AddRange(n);
            return;
        }

        p.Add(0x8a);
        p.Add(8);
        var l = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(l, v);
        p.AddRange(l);
    }

    public static void Global(List<byte> p, string module, string name) => p.AddRange(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));

    private static void Tuple(List<byte> p, long[] items)
    {
        p.Add((byte)'(');
        foreach (var i in items)
        {
            Int(p, i);
        }

        p.Add((byte)'t');
    }

    private static void Add(ZipArchive zip, string name, byte[] bytes)
    {
        var e = zip.CreateEntry(name, CompressionLevel.NoCompression);
        using var s = e.Open();
        s.Write(bytes);
    }
}
