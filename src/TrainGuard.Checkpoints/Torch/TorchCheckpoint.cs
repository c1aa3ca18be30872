using TrainGuard.Formats.Detection;
using TrainGuard.Formats.Tar;
using TrainGuard.Formats.Torch;
using TrainGuard.Formats.Zip;
using TrainGuard.Parsing;
using TrainGuard.Pickle.Objects;

namespace TrainGuard.Checkpoints.Torch;

/// <summary>
/// A torch checkpoint opened without executing anything: its object pickle read into a
/// <see cref="PyValue"/> tree, its storages located (not read) and every tensor resolved with its dotted
/// path. Format by content: zip (<c>&lt;root&gt;/data.pkl</c>), legacy pickle sequence, legacy tar, or a
/// bare pickle. Opening reads the pickles and the archive directory only; tensor bytes are read by
/// <see cref="CopyTensorTo"/>, <see cref="ReadTensorBytes"/> and <see cref="OpenStorage"/>.
/// Hostile structure (missing storage, a view past its storage, negative or overflowing shapes and
/// strides, an unknown dtype) gives a <see cref="MalformedInputException"/> naming the member and field.
/// </summary>
public sealed partial class TorchCheckpoint : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly object _gate = new();
    private readonly Dictionary<string, TorchStorage> _storages = new(StringComparer.Ordinal);
    private readonly Dictionary<PyPersistentRef, StorageSlice> _storageRefs = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<PyPersistentRef, TensorRef> _persistentTensors = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<PyValue, TensorRef> _byNode = new(ReferenceEqualityComparer.Instance);
    private ZipReader? _zip;
    private TarReader? _tar;
    private PickleObjectResult _pickle = null!;
    private List<TensorRef> _tensors = [];

    private TorchCheckpoint(Stream stream, bool leaveOpen, TorchReadOptions options)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
        Options = options;
    }

    public TorchFormat Format { get; private set; }

    /// <summary>The object the checkpoint holds (what <c>torch.load</c> would return, symbolically).</summary>
    public PyValue Root => _pickle.Root;

    /// <summary>The object pickle as read (protocol, globals, persistent ids).</summary>
    public PickleObjectResult Pickle => _pickle;

    /// <summary>The member that holds the object pickle (<c>archive/data.pkl</c>, <c>pickle</c>), or "object pickle" in a legacy file.</summary>
    public string PickleMember { get; private set; } = "pickle";

    /// <summary>The zip's root folder (<c>archive</c>, or the file stem when saved to a path); null for other formats.</summary>
    public string? ArchiveRoot { get; private set; }

    /// <summary>True when the storages are big-endian (<c>byteorder</c> member, or legacy <c>sys_info</c>).</summary>
    public bool IsBigEndian { get; private set; }

    public TorchReadOptions Options { get; }

    /// <summary>Storages by key.</summary>
    public IReadOnlyDictionary<string, TorchStorage> Storages => _storages;

    /// <summary>Every tensor in the object tree, in tree order, with its dotted path (a tensor reached by two paths is listed twice).</summary>
    public IReadOnlyList<TensorRef> Tensors => _tensors;

    /// <summary>Opens a checkpoint file.</summary>
    public static TorchCheckpoint Open(string path, TorchReadOptions? options = null)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.RandomAccess);
        try
        {
            return Open(stream, options, leaveOpen: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Opens a checkpoint from a seekable stream (disposed with the checkpoint unless <paramref name="leaveOpen"/>).</summary>
    public static TorchCheckpoint Open(Stream seekable, TorchReadOptions? options = null, bool leaveOpen = true)
    {
        ArgumentNullException.ThrowIfNull(seekable);
        if (!seekable.CanSeek || !seekable.CanRead)
        {
            throw new ArgumentException("a torch checkpoint is read from a readable, seekable stream", nameof(seekable));
        }

        var checkpoint = new TorchCheckpoint(seekable, leaveOpen, options ?? TorchReadOptions.Default);
        try
        {
            checkpoint.Load();
            return checkpoint;
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>The tensor rebuilt from <paramref name="node"/> (a value found while walking <see cref="Root"/> yourself), or null.</summary>
    public TensorRef? TensorOf(PyValue node) => _byNode.GetValueOrDefault(node);

    /// <summary>The tensors under a sub-tree, with paths relative to it (e.g. a state_dict under <c>model</c>).</summary>
    public IReadOnlyList<TensorRef> TensorsUnder(PyValue subtree) =>
        TorchTreeWalker.Walk(subtree, this).Where(e => e.Tensor is not null).Select(e => e.Tensor!).ToList();

    /// <summary>Walks a sub-tree (default: the root) and yields its leaves: tensors and the non-tensor values, each with its path.</summary>
    public IEnumerable<TorchTreeEntry> Walk(PyValue? subtree = null) => TorchTreeWalker.Walk(subtree ?? Root, this);

    /// <summary>Fuzz target: any bytes either open (and every small tensor copies) or fail with <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        try
        {
            var options = TorchReadOptions.Default with
            {
                MaxWalkVisits = 100_000,
                Pickle = PickleObjectLimits.Default with { MaxNodes = 100_000, MaxValueBytes = 1 << 20, MaxTotalValueBytes = 4 << 20 },
            };
            using var checkpoint = Open(new MemoryStream(data.ToArray()), options);
            foreach (var t in checkpoint.Tensors.Take(16))
            {
                if (t.ByteSize < 1 << 20)
                {
                    checkpoint.ReadTensorBytes(t);
                }
            }
        }
        catch (MalformedInputException)
        {
        }
    }

    public void Dispose()
    {
        _zip?.Dispose();
        _tar?.Dispose();
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    // ---------------------------------------------------------------- loading

    private void Load()
    {
        var format = FormatDetector.Detect(_stream);
        _stream.Position = 0;
        switch (format)
        {
            case DetectedFormat.Zip:
                LoadZip();
                break;
            case DetectedFormat.TorchLegacy:
                LoadLegacy();
                break;
            case DetectedFormat.Tar:
                LoadTar();
                break;
            case DetectedFormat.Pickle:
                Format = TorchFormat.Pickle;
                PickleMember = "pickle";
                _pickle = ReadPickle(_stream, "pickle");
                break;
            default:
                MalformedInputException.Throw(InputErrorKind.Syntax, $"not a torch checkpoint: the content is {format} (expected a torch zip, a legacy torch file or tar, or a pickle)", 0, null);
                break;
        }

        _tensors = TorchTreeWalker.Walk(Root, this).Where(e => e.Tensor is not null).Select(e => e.Tensor!).ToList();
    }

    private PickleObjectResult ReadPickle(Stream stream, string member)
    {
        try
        {
            return PickleObjectReader.Read(stream, Options.Pickle);
        }
        catch (MalformedInputException e)
        {
            throw e.WithMember(member);
        }
    }

    private PickleObjectResult ReadPickle(byte[] bytes, string member)
    {
        try
        {
            return PickleObjectReader.Read(bytes, Options.Pickle);
        }
        catch (MalformedInputException e)
        {
            throw e.WithMember(member);
        }
    }

    // ---------------------------------------------------------------- zip

    private void LoadZip()
    {
        Format = TorchFormat.Zip;
        _zip = ZipReader.Open(_stream, Options.Zip, leaveOpen: true);
        var candidates = _zip.Entries.Where(e => e.Name.EndsWith("/data.pkl", StringComparison.Ordinal) && e.Name.IndexOf('/', StringComparison.Ordinal) == e.Name.Length - "/data.pkl".Length).ToList();
        if (candidates.Count == 0)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "a zip without <root>/data.pkl is not a torch checkpoint", 0, null);
        }

        if (candidates.Count > 1)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"the zip has {candidates.Count} data.pkl members ({string.Join(", ", candidates.Select(c => c.Name))}); torch reads one, so which one is ambiguous", candidates[1].LocalHeaderOffset, candidates[1].Name);
        }

        var pkl = candidates[0];
        ArchiveRoot = pkl.Name[..^"/data.pkl".Length];
        PickleMember = pkl.Name;
        var byName = new Dictionary<string, ZipEntry>(StringComparer.Ordinal);
        foreach (var e in _zip.Entries)
        {
            // The zip reader reads damaged archives as loaders do and says what it could not read; a checkpoint
            // reader needs every member whole, so a member it cannot read is an error here.
            if (e.Problem is { } problem)
            {
                MalformedInputException.Throw(InputErrorKind.Corrupt, $"member cannot be read: {problem}", e.LocalHeaderOffset, e.Name);
            }

            if (!byName.TryAdd(e.Name, e))
            {
                MalformedInputException.Throw(InputErrorKind.Corrupt, "the zip names this member twice; torch would read one copy and a scanner another", e.LocalHeaderOffset, e.Name);
            }
        }

        if (byName.TryGetValue(ArchiveRoot + "/byteorder", out var order))
        {
            var text = System.Text.Encoding.ASCII.GetString(_zip.ReadEntry(order, 16)).Trim();
            IsBigEndian = text switch
            {
                "little" => false,
                "big" => true,
                _ => MalformedInputException.Throw<bool>(InputErrorKind.Syntax, $"byteorder is '{text}', not 'little' or 'big'", order.LocalHeaderOffset, order.Name),
            };
        }

        if (pkl.UncompressedSize > Options.Pickle.MaxPickleBytes)
        {
            MalformedInputException.ThrowLimit($"data.pkl size ({pkl.UncompressedSize:N0} bytes)", Options.Pickle.MaxPickleBytes, pkl.LocalHeaderOffset, pkl.Name);
        }

        byte[] bytes;
        try
        {
            bytes = _zip.ReadEntry(pkl, Options.Pickle.MaxPickleBytes);
        }
        catch (MalformedInputException e)
        {
            throw e.WithMember(pkl.Name);
        }

        _pickle = ReadPickle(bytes, pkl.Name);
        foreach (var r in _pickle.PersistentRefs)
        {
            var id = StorageId.Parse(r, PickleMember, legacy: false);
            if (!_storages.TryGetValue(id.Key, out var storage))
            {
                if (_storages.Count >= Options.MaxStorages)
                {
                    MalformedInputException.ThrowLimit("number of storages", Options.MaxStorages, r.Offset, PickleMember);
                }

                var member = ArchiveRoot + "/data/" + id.Key;
                if (!byName.TryGetValue(member, out var entry))
                {
                    MalformedInputException.Throw(InputErrorKind.Syntax, $"storage '{id.Key}' ({id.Dtype.Name}, {id.ElementCount:N0} elements) has no member {member}", r.Offset, PickleMember);
                }

                storage = new TorchStorage(id.Key, id.Dtype, id.ElementCount, id.Location, member)
                {
                    ZipEntry = entry,
                    FileOffset = entry.IsStored ? entry.DataOffset : null,
                };
                if (entry.UncompressedSize != storage.ByteLength)
                {
                    MalformedInputException.Throw(InputErrorKind.Corrupt, $"storage '{id.Key}' declares {id.ElementCount:N0} {id.Dtype.Name} elements ({storage.ByteLength:N0} bytes) but its member holds {entry.UncompressedSize:N0} bytes", entry.LocalHeaderOffset, member);
                }

                if (entry.IsStored && entry.CompressedSize != entry.UncompressedSize)
                {
                    MalformedInputException.Throw(InputErrorKind.Corrupt, $"stored member declares {entry.UncompressedSize:N0} bytes but holds {entry.CompressedSize:N0}", entry.LocalHeaderOffset, member);
                }

                _storages.Add(id.Key, storage);
            }
            else
            {
                CheckSameStorage(storage, id, r);
            }

            _storageRefs[r] = new StorageSlice(storage, 0, storage.ElementCount);
        }
    }

    private void CheckSameStorage(TorchStorage storage, StorageId id, PyPersistentRef r)
    {
        if (storage.Dtype != id.Dtype || storage.ElementCount != id.ElementCount)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, $"storage '{id.Key}' is referenced as {id.Dtype.Name} x {id.ElementCount:N0} here but as {storage.Dtype.Name} x {storage.ElementCount:N0} before", r.Offset, PickleMember);
        }
    }

    // ---------------------------------------------------------------- legacy pickle sequence

    private void LoadLegacy()
    {
        Format = TorchFormat.Legacy;
        PickleMember = "object pickle";
        var magic = ReadPickle(_stream, "magic number pickle").Root;
        if (magic.AsBigInteger() != LegacyTorchLayout.MagicNumber)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"the first pickle is {PyRender.ToText(magic)}, not torch's magic number 0x{LegacyTorchLayout.MagicNumber:x}", 0, "magic number pickle");
        }

        var protocolStart = _stream.Position;
        var protocol = ReadPickle(_stream, "protocol version pickle").Root;
        if (protocol.AsInt64() != LegacyTorchLayout.ProtocolVersion)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"legacy protocol version is {PyRender.ToText(protocol)}, not {LegacyTorchLayout.ProtocolVersion}", protocolStart, "protocol version pickle");
        }

        var sysInfoStart = _stream.Position;
        var sysInfo = ReadPickle(_stream, "sys_info pickle").Root;
        IsBigEndian = sysInfo.Get("little_endian")?.AsBool() is false;
        if (sysInfo.AsDict() is null)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "sys_info is not a dict", sysInfoStart, "sys_info pickle");
        }

        var objectStart = _stream.Position;
        _pickle = ReadPickle(_stream, "object pickle");
        PickleMember = $"object pickle at {objectStart:N0}";
        var keysStart = _stream.Position;
        var keys = ReadPickle(_stream, "storage keys pickle").Root.AsSequence()
            ?? MalformedInputException.Throw<IReadOnlyList<PyValue>>(InputErrorKind.Syntax, "the storage keys pickle is not a list", keysStart, "storage keys pickle");

        // Root storages from the object pickle's persistent ids ('storage', type, key, location, numel, view_metadata).
        var views = new List<(PyPersistentRef Ref, StorageId Id)>();
        foreach (var r in _pickle.PersistentRefs)
        {
            if (IsModuleId(r))
            {
                continue;
            }

            var id = StorageId.Parse(r, PickleMember, legacy: true);
            if (!_storages.TryGetValue(id.Key, out var storage))
            {
                if (_storages.Count >= Options.MaxStorages)
                {
                    MalformedInputException.ThrowLimit("number of storages", Options.MaxStorages, r.Offset, PickleMember);
                }

                storage = new TorchStorage(id.Key, id.Dtype, id.ElementCount, id.Location, $"legacy storage '{id.Key}'");
                _storages.Add(id.Key, storage);
            }
            else
            {
                CheckSameStorage(storage, id, r);
            }

            views.Add((r, id));
        }

        // Raw storages follow the keys list, in its order: an 8-byte element count, then the elements.
        var position = _stream.Position;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var keyValue in keys)
        {
            var key = keyValue.AsString() ?? MalformedInputException.Throw<string>(InputErrorKind.Syntax, $"a storage key is {PyRender.ToText(keyValue)}, not a str", keysStart, "storage keys pickle");
            if (!seen.Add(key))
            {
                MalformedInputException.Throw(InputErrorKind.Corrupt, $"storage '{key}' is listed twice", keysStart, "storage keys pickle");
            }

            if (!_storages.TryGetValue(key, out var storage))
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"storage '{key}' is listed but no tensor in the object pickle uses it (torch asserts on this)", keysStart, "storage keys pickle");
            }

            _stream.Position = position;
            var record = InMember(() => LegacyTorchLayout.ReadStorage(_stream, storage.Dtype.ElementSize, IsBigEndian, $"storage '{key}'", storage.ElementCount), storage.Member);
            storage.FileOffset = record.DataOffset;
            position = _stream.Position;
        }

        foreach (var s in _storages.Values)
        {
            if (s.FileOffset is null)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"storage '{s.Key}' is used by the object pickle but missing from the storage keys list", keysStart, "storage keys pickle");
            }
        }

        foreach (var (r, id) in views)
        {
            var storage = _storages[id.Key];
            if (id.View is { } view)
            {
                if (view.Offset < 0 || view.Count < 0 || view.Offset > storage.ElementCount - view.Count)
                {
                    MalformedInputException.Throw(InputErrorKind.Corrupt, $"storage view '{view.Key}' [{view.Offset:N0}, +{view.Count:N0}) lies outside storage '{id.Key}' of {storage.ElementCount:N0} elements", r.Offset, PickleMember);
                }

                _storageRefs[r] = new StorageSlice(storage, view.Offset, view.Count);
            }
            else
            {
                _storageRefs[r] = new StorageSlice(storage, 0, storage.ElementCount);
            }
        }
    }

    private static bool IsModuleId(PyPersistentRef r) => r.Id.AsSequence() is { Count: > 0 } items && items[0].AsString() == "module";

    // ---------------------------------------------------------------- legacy tar

    private void LoadTar()
    {
        Format = TorchFormat.LegacyTar;
        _tar = TarReader.Open(_stream, Options.Tar, leaveOpen: true);
        TarEntry Member(string name) =>
            _tar.Entries.SingleOrDefault(e => e.Name == name && e.IsRegularFile)
            ?? MalformedInputException.Throw<TarEntry>(InputErrorKind.Syntax, $"a legacy torch tar needs a '{name}' member", 0, null);

        var storagesEntry = Member("storages");
        var tensorsEntry = Member("tensors");
        var pickleEntry = Member("pickle");
        var sysInfo = _tar.Entries.SingleOrDefault(e => e.Name == "sys_info" && e.IsRegularFile);
        if (sysInfo is not null)
        {
            using var s = _tar.OpenEntry(sysInfo);
            IsBigEndian = ReadPickle(s, "sys_info").Root.Get("little_endian")?.AsBool() is false;
        }

        // storages: count, then per storage (key, location, storage_type) + element count + elements; then views.
        var byKey = new Dictionary<string, StorageSlice>(StringComparer.Ordinal);
        using (var s = _tar.OpenEntry(storagesEntry))
        {
            var count = ReadPickle(s, "storages").Root.AsInt64() ?? MalformedInputException.Throw<long>(InputErrorKind.Syntax, "the storage count is not an int", storagesEntry.DataOffset, "storages");
            if (count < 0 || count > Options.MaxStorages)
            {
                MalformedInputException.ThrowLimit($"number of storages ({count:N0})", Options.MaxStorages, storagesEntry.DataOffset, "storages");
            }

            for (var i = 0; i < count; i++)
            {
                var at = s.Position;
                var args = ReadPickle(s, "storages").Root.AsSequence();
                if (args is not { Count: 3 } || args[2] is not PyGlobal type || TorchDtype.FromGlobal(type.Module, type.Name) is not { } dtype)
                {
                    MalformedInputException.Throw(InputErrorKind.Syntax, $"storage record {i} is not (key, location, storage type)", storagesEntry.DataOffset + at, "storages");
                    return;
                }

                var key = KeyText(args[0]);
                var record = InMember(() => LegacyTorchLayout.ReadStorage(s, dtype.ElementSize, IsBigEndian, $"storage '{key}'"), "storages");
                var storage = new TorchStorage(key, dtype, record.ElementCount, args[1].AsString() ?? "cpu", "storages") { FileOffset = storagesEntry.DataOffset + record.DataOffset };
                if (!_storages.TryAdd(key, storage))
                {
                    MalformedInputException.Throw(InputErrorKind.Corrupt, $"storage '{key}' is defined twice", storagesEntry.DataOffset + at, "storages");
                }

                byKey[key] = new StorageSlice(storage, 0, record.ElementCount);
            }

            var viewsAt = s.Position;
            var viewList = ReadPickle(s, "storages").Root.AsSequence() ?? [];
            foreach (var v in viewList)
            {
                if (v.AsSequence() is not { Count: 4 } f || f[2].AsInt64() is not { } offset || f[3].AsInt64() is not { } numel
                    || !byKey.TryGetValue(KeyText(f[1]), out var root) || offset < 0 || numel < 0 || offset > root.Count - numel)
                {
                    MalformedInputException.Throw(InputErrorKind.Syntax, $"storage view {PyRender.ToText(v)} does not lie inside a known storage", storagesEntry.DataOffset + viewsAt, "storages");
                    return;
                }

                byKey[KeyText(f[0])] = new StorageSlice(root.Storage, root.Offset + offset, numel);
            }
        }

        // tensors: count, then per tensor (key, storage key, type) + ndim i32, 4 pad bytes, sizes, strides, offset.
        var tensorsByKey = new Dictionary<string, TensorRef>(StringComparer.Ordinal);
        using (var s = _tar.OpenEntry(tensorsEntry))
        {
            var count = ReadPickle(s, "tensors").Root.AsInt64() ?? MalformedInputException.Throw<long>(InputErrorKind.Syntax, "the tensor count is not an int", tensorsEntry.DataOffset, "tensors");
            if (count < 0 || count > Options.MaxStorages)
            {
                MalformedInputException.ThrowLimit($"number of tensors ({count:N0})", Options.MaxStorages, tensorsEntry.DataOffset, "tensors");
            }

            for (var i = 0; i < count; i++)
            {
                var at = tensorsEntry.DataOffset + s.Position;
                var args = ReadPickle(s, "tensors").Root.AsSequence();
                if (args is not { Count: 3 } || !byKey.TryGetValue(KeyText(args[1]), out var slice))
                {
                    MalformedInputException.Throw(InputErrorKind.Syntax, $"tensor record {i} is not (key, known storage key, type)", at, "tensors");
                    return;
                }

                var key = KeyText(args[0]);
                var header = InMember(() => LegacyTorchLayout.ReadTensor(s, Options.MaxRank, $"tensor '{key}'"), "tensors");
                tensorsByKey[key] = TensorResolver.Make(key, slice, header.StorageOffset, header.Sizes, header.Strides, false, false, args[0], this, at, "tensors");
            }
        }

        PickleMember = "pickle";
        using (var s = _tar.OpenEntry(pickleEntry))
        {
            _pickle = ReadPickle(s, "pickle");
        }

        foreach (var r in _pickle.PersistentRefs)
        {
            var key = KeyText(r.Id);
            if (tensorsByKey.TryGetValue(key, out var tensor))
            {
                _persistentTensors[r] = tensor;
            }
            else if (byKey.TryGetValue(key, out var slice))
            {
                _storageRefs[r] = slice;
            }
            else if (!IsModuleId(r))
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"persistent id {PyRender.ToText(r.Id)} names no tensor or storage of the tar", r.Offset, "pickle");
            }
        }
    }

    /// <summary>Runs a legacy layout read, naming the member in its errors.</summary>
    private static T InMember<T>(Func<T> read, string member)
    {
        try
        {
            return read();
        }
        catch (MalformedInputException e)
        {
            throw e.WithMember(member);
        }
    }

    private static string KeyText(PyValue v) => v.AsString() ?? v.AsBigInteger()?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? PyRender.ToText(v);

    // ---------------------------------------------------------------- resolution hooks used by the walker

    internal StorageSlice? StorageOf(PyPersistentRef r) => _storageRefs.TryGetValue(r, out var s) ? s : null;

    internal TensorRef? PersistentTensor(PyPersistentRef r) => _persistentTensors.GetValueOrDefault(r);

    internal void Remember(PyValue node, TensorRef tensor) => _byNode.TryAdd(node, tensor);
}

/// <summary>Elements [Offset, Offset + Count) of a root storage (a whole storage, or a legacy view).</summary>
internal readonly record struct StorageSlice(TorchStorage Storage, long Offset, long Count);

/// <summary>A parsed storage persistent id: <c>('storage', type, key, location, numel[, view_metadata])</c>.</summary>
internal sealed record StorageId(string Key, TorchDtype Dtype, long ElementCount, string Location, (string Key, long Offset, long Count)? View)
{
    public static StorageId Parse(PyPersistentRef r, string member, bool legacy)
    {
        var items = r.Id.AsSequence();
        if (items is null || items.Count < 5 || items[0].AsString() != "storage")
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"persistent id {PyRender.ToText(r.Id)} is not ('storage', type, key, location, numel)", r.Offset, member);
        }

        if (items.Count > (legacy ? 6 : 5))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"persistent id {PyRender.ToText(r.Id)} has {items.Count} fields", r.Offset, member);
        }

        var dtype = items[1] switch
        {
            PyGlobal g => TorchDtype.FromGlobal(g.Module, g.Name),
            PyStr s => TorchDtype.FromName(s.Value),
            _ => null,
        } ?? MalformedInputException.Throw<TorchDtype>(InputErrorKind.Syntax, $"storage type {PyRender.ToText(items[1])} is not a known torch storage or dtype", r.Offset, member);
        var key = items[2].AsString() ?? items[2].AsInt64()?.ToString(System.Globalization.CultureInfo.InvariantCulture)
            ?? MalformedInputException.Throw<string>(InputErrorKind.Syntax, $"storage key {PyRender.ToText(items[2])} is not a str", r.Offset, member);
        if (key.Length == 0 || key.Length > 256 || key.Contains('/', StringComparison.Ordinal) || key.Contains('\\', StringComparison.Ordinal) || key is "." or "..")
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"storage key '{key}' is not a plain member name", r.Offset, member);
        }

        var location = items[3].AsString() ?? MalformedInputException.Throw<string>(InputErrorKind.Syntax, $"storage location {PyRender.ToText(items[3])} is not a str", r.Offset, member);
        var numel = items[4].AsInt64() ?? MalformedInputException.Throw<long>(InputErrorKind.Syntax, $"storage '{key}' element count {PyRender.ToText(items[4])} is not an int", r.Offset, member);
        if (numel < 0 || numel > long.MaxValue / dtype.ElementSize)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"storage '{key}' element count {numel:N0} is negative or overflows", r.Offset, member);
        }

        (string, long, long)? view = null;
        if (items.Count == 6 && !items[5].IsNone)
        {
            var v = items[5].AsSequence();
            if (v is not { Count: 3 } || v[1].AsInt64() is not { } offset || v[2].AsInt64() is not { } size)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"storage '{key}' view metadata {PyRender.ToText(items[5])} is not (key, offset, size)", r.Offset, member);
                return null!;
            }

            view = (v[0].AsString() ?? PyRender.ToText(v[0]), offset, size);
        }

        return new StorageId(key, dtype, numel, location, view);
    }
}
