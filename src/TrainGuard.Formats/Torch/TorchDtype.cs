namespace TrainGuard.Formats.Torch;

/// <summary>
/// A torch element type: its name (<c>float32</c>), size in bytes, the storage class that carries it in
/// pickles (<c>FloatStorage</c>) and its safetensors code (<c>F32</c>; null where safetensors has none).
/// </summary>
public sealed record TorchDtype(string Name, int ElementSize, string StorageClass, string? SafetensorsCode, bool IsComplex = false, bool IsQuantized = false)
{
    public static TorchDtype Float32 { get; } = new("float32", 4, "FloatStorage", "F32");

    public static TorchDtype Float64 { get; } = new("float64", 8, "DoubleStorage", "F64");

    public static TorchDtype Float16 { get; } = new("float16", 2, "HalfStorage", "F16");

    public static TorchDtype BFloat16 { get; } = new("bfloat16", 2, "BFloat16Storage", "BF16");

    public static TorchDtype Int64 { get; } = new("int64", 8, "LongStorage", "I64");

    public static TorchDtype Int32 { get; } = new("int32", 4, "IntStorage", "I32");

    public static TorchDtype Int16 { get; } = new("int16", 2, "ShortStorage", "I16");

    public static TorchDtype Int8 { get; } = new("int8", 1, "CharStorage", "I8");

    public static TorchDtype UInt8 { get; } = new("uint8", 1, "ByteStorage", "U8");

    public static TorchDtype Bool { get; } = new("bool", 1, "BoolStorage", "BOOL");

    public static TorchDtype Complex64 { get; } = new("complex64", 8, "ComplexFloatStorage", "C64", IsComplex: true);

    public static TorchDtype Complex128 { get; } = new("complex128", 16, "ComplexDoubleStorage", null, IsComplex: true);

    public static TorchDtype QInt8 { get; } = new("qint8", 1, "QInt8Storage", null, IsQuantized: true);

    public static TorchDtype QUInt8 { get; } = new("quint8", 1, "QUInt8Storage", null, IsQuantized: true);

    public static TorchDtype QInt32 { get; } = new("qint32", 4, "QInt32Storage", null, IsQuantized: true);

    public static IReadOnlyList<TorchDtype> All { get; } =
        [Float32, Float64, Float16, BFloat16, Int64, Int32, Int16, Int8, UInt8, Bool, Complex64, Complex128, QInt8, QUInt8, QInt32];

    private static readonly Dictionary<string, TorchDtype> ByStorageClass = All.ToDictionary(d => d.StorageClass, StringComparer.Ordinal);

    private static readonly Dictionary<string, TorchDtype> ByName = BuildNames();

    /// <summary>The size of one component swapped for byte order (a complex number is two floats).</summary>
    public int ByteOrderUnit => IsComplex ? ElementSize / 2 : ElementSize;

    /// <summary>
    /// The dtype a pickled storage type names: <c>torch.FloatStorage</c>, <c>torch.cuda.HalfStorage</c>,
    /// <c>torch.UntypedStorage</c> (bytes), or a dtype global such as <c>torch.float32</c>. Null when unknown.
    /// </summary>
    public static TorchDtype? FromGlobal(string module, string name)
    {
        if (module is "torch" or "torch.cuda" or "torch.storage")
        {
            if (name is "UntypedStorage" or "_UntypedStorage" or "ByteStorage")
            {
                return UInt8;
            }

            if (ByStorageClass.TryGetValue(name, out var byStorage))
            {
                return byStorage;
            }
        }

        return module == "torch" && ByName.TryGetValue(name, out var byName) ? byName : null;
    }

    /// <summary>
    /// The dtype of a storage class by its bare name (<c>FloatStorage</c>), whatever module it comes from: for
    /// readers that only see the rendered class. Null when the name is no torch storage class.
    /// </summary>
    public static TorchDtype? FromStorageClass(string name) => ByStorageClass.GetValueOrDefault(name);

    /// <summary>A dtype by its torch name (<c>float32</c>, <c>torch.float32</c>, <c>float</c>, <c>half</c>...); null when unknown.</summary>
    public static TorchDtype? FromName(string name)
    {
        var n = name.StartsWith("torch.", StringComparison.Ordinal) ? name[6..] : name;
        return ByName.TryGetValue(n, out var d) ? d : null;
    }

    public override string ToString() => Name;

    private static Dictionary<string, TorchDtype> BuildNames()
    {
        var d = All.ToDictionary(x => x.Name, StringComparer.Ordinal);
        d["float"] = Float32;
        d["double"] = Float64;
        d["half"] = Float16;
        d["long"] = Int64;
        d["int"] = Int32;
        d["short"] = Int16;
        d["cfloat"] = Complex64;
        d["cdouble"] = Complex128;
        return d;
    }
}
