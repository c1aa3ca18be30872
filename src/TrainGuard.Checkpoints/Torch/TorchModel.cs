using TrainGuard.Formats.Tar;
using TrainGuard.Formats.Torch;
using TrainGuard.Formats.Zip;
using TrainGuard.Pickle.Objects;

namespace TrainGuard.Checkpoints.Torch;

/// <summary>How a torch checkpoint is laid out on disk.</summary>
public enum TorchFormat
{
    /// <summary><c>torch.save</c> since 1.6: a zip with <c>&lt;root&gt;/data.pkl</c> and one <c>&lt;root&gt;/data/&lt;key&gt;</c> member per storage.</summary>
    Zip,

    /// <summary><c>_use_new_zipfile_serialization=False</c>: five pickles (magic, protocol, sys_info, object, storage keys), then raw storages.</summary>
    Legacy,

    /// <summary>torch before 0.4: a tar with <c>sys_info</c>, <c>pickle</c>, <c>storages</c> and <c>tensors</c> members.</summary>
    LegacyTar,

    /// <summary>A bare pickle (no storages): readable, but any tensor in it has no bytes.</summary>
    Pickle,
}

/// <summary>Bounds on opening a checkpoint (pickle limits, archive limits, the tree walk).</summary>
public sealed record TorchReadOptions
{
    public static TorchReadOptions Default { get; } = new();

    public PickleObjectLimits Pickle { get; init; } = PickleObjectLimits.Default;

    public ZipLimits Zip { get; init; } = ZipLimits.Default;

    public TarLimits Tar { get; init; } = TarLimits.Default;

    /// <summary>Storages in one checkpoint.</summary>
    public int MaxStorages { get; init; } = 1_000_000;

    /// <summary>Dimensions of one tensor.</summary>
    public int MaxRank { get; init; } = LegacyTorchLayout.DefaultMaxRank;

    /// <summary>Nesting followed when walking the object tree for tensors.</summary>
    public int MaxWalkDepth { get; init; } = 256;

    /// <summary>Values visited when walking the object tree (shared sub-trees are visited once per path).</summary>
    public long MaxWalkVisits { get; init; } = 20_000_000;
}

/// <summary>One storage: a run of elements of one dtype, stored in an archive member or at an offset of a legacy file.</summary>
public sealed class TorchStorage
{
    internal TorchStorage(string key, TorchDtype dtype, long elementCount, string location, string member)
    {
        Key = key;
        Dtype = dtype;
        ElementCount = elementCount;
        Location = location;
        Member = member;
        ByteLength = checked(elementCount * dtype.ElementSize);
    }

    /// <summary>The storage key (<c>data/&lt;key&gt;</c> in a zip checkpoint).</summary>
    public string Key { get; }

    public TorchDtype Dtype { get; }

    public long ElementCount { get; }

    public long ByteLength { get; }

    /// <summary>The device it was saved from (<c>cpu</c>, <c>cuda:0</c>).</summary>
    public string Location { get; }

    /// <summary>Where the bytes are: the archive member, or a description of the offset in a legacy file.</summary>
    public string Member { get; }

    /// <summary>Absolute offset of the first byte in the checkpoint file when stored uncompressed (null for a deflated zip member).</summary>
    public long? FileOffset { get; internal set; }

    internal ZipEntry? ZipEntry { get; init; }
}

/// <summary>
/// One tensor found in the object tree: where (<see cref="Path"/>, e.g. <c>model.layer.weight</c> or
/// <c>state.0.exp_avg</c>), its dtype, shape, stride and place in a storage. Validated against its storage
/// when the checkpoint is opened; its bytes are read only on request (<see cref="TorchCheckpoint.CopyTensorTo"/>).
/// </summary>
public sealed record TensorRef
{
    /// <summary>Dotted path of keys and indices from the root ("" when the root is the tensor).</summary>
    public required string Path { get; init; }

    public required TorchDtype Dtype { get; init; }

    public required IReadOnlyList<long> Shape { get; init; }

    public required IReadOnlyList<long> Stride { get; init; }

    /// <summary>Offset of the first element in the storage, in elements (legacy view storages folded in).</summary>
    public required long StorageOffset { get; init; }

    public required TorchStorage Storage { get; init; }

    public string StorageKey => Storage.Key;

    public required long ElementCount { get; init; }

    /// <summary>Bytes of the tensor's own elements (what a contiguous copy holds).</summary>
    public long ByteSize => ElementCount * Dtype.ElementSize;

    /// <summary>True when the elements are laid out densely in row-major order (a copy is one read).</summary>
    public required bool IsContiguous { get; init; }

    public required bool RequiresGrad { get; init; }

    /// <summary>True for a <c>torch.nn.Parameter</c>.</summary>
    public required bool IsParameter { get; init; }

    /// <summary>The pickle value the tensor was rebuilt from (for consumers walking the tree themselves).</summary>
    public required PyValue Node { get; init; }

    public override string ToString() => $"{Path} {Dtype.Name}[{string.Join(", ", Shape)}]";
}
