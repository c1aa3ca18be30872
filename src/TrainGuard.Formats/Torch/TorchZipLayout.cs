using TrainGuard.Formats.Zip;

namespace TrainGuard.Formats.Torch;

/// <summary>
/// Which members of a zip <c>torch.load</c> really reads, found the way PyTorch's reader finds them
/// (<c>caffe2/serialize/inline_container.cc</c> over miniz 2.1.0 in torch 1.13, miniz 3.0.2 in torch 2.x; the
/// lookup is the same in both):
/// <list type="bullet">
/// <item>the root folder is the part before the first <c>/</c> of the <b>first central directory entry</b>;
/// a first entry without <c>/</c> makes the load fail;</item>
/// <item>a record <c>root/NAME</c> is located by miniz's binary search over the central directory sorted by
/// name <b>case-insensitively</b> (ASCII <c>A-Z</c> only) with miniz's own heap sort, so <c>ARCHIVE/DATA.PKL</c>
/// is what a lookup of <c>archive/data.pkl</c> finds when no exact name exists, and among names that differ
/// only in case the one the search meets first wins, whatever the directory order;</item>
/// <item>sizes come from the central directory, the data offset from the local header's name and extra lengths;
/// CRC-32 is not checked (miniz is built with <c>MINIZ_DISABLE_ZIP_READER_CRC32_CHECKS</c>), data descriptors
/// are never read (see <see cref="ZipReader.ReadEntryAsLoader"/>).</item>
/// </list>
/// Hidden local entries are not in the directory, so torch never sees them.
/// </summary>
public sealed class TorchZipLayout
{
    private readonly IReadOnlyList<ZipEntry> _entries;
    private readonly int[] _sorted;

    private TorchZipLayout(IReadOnlyList<ZipEntry> entries, string? root)
    {
        _entries = entries;
        Root = root;
        _sorted = SortLikeMiniz(entries);
    }

    /// <summary>The root folder torch prefixes to every record, or null when the first entry has no <c>/</c> (torch refuses the file).</summary>
    public string? Root { get; }

    /// <summary>The layout of a zip's central directory entries (in directory order).</summary>
    public static TorchZipLayout For(IReadOnlyList<ZipEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        string? root = null;
        if (entries.Count > 0)
        {
            var first = entries[0].RawName;
            var slash = Array.IndexOf(first, (byte)'/');
            root = slash < 0 ? null : ZipReader.DecodeName(first.AsSpan(0, slash));
        }

        return new TorchZipLayout(entries, root);
    }

    /// <summary>The entry torch reads for record <paramref name="record"/> (e.g. <c>data.pkl</c>, <c>data/0</c>), or null when the lookup fails.</summary>
    public ZipEntry? Locate(string record)
    {
        if (Root is null)
        {
            return null;
        }

        var key = System.Text.Encoding.UTF8.GetBytes(Root + "/" + record);
        return LocateName(key);
    }

    /// <summary>Every entry whose name equals <paramref name="record"/>'s full name ignoring ASCII case: what the lookup chose among.</summary>
    public IReadOnlyList<ZipEntry> Candidates(string record)
    {
        if (Root is null)
        {
            return [];
        }

        var key = System.Text.Encoding.UTF8.GetBytes(Root + "/" + record);
        return _entries.Where(e => Compare(e.RawName, key) == 0).ToArray();
    }

    private ZipEntry? LocateName(ReadOnlySpan<byte> name)
    {
        // mz_zip_locate_file_binary_search
        long l = 0;
        long h = _sorted.Length - 1;
        while (l <= h)
        {
            var m = l + ((h - l) >> 1);
            var index = _sorted[m];
            var comp = Compare(_entries[index].RawName, name);
            if (comp == 0)
            {
                return _entries[index];
            }

            if (comp < 0)
            {
                l = m + 1;
            }
            else
            {
                h = m - 1;
            }
        }

        return null;
    }

    /// <summary>mz_zip_filename_compare: ASCII case-insensitive, then by length.</summary>
    internal static int Compare(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right)
    {
        var n = Math.Min(left.Length, right.Length);
        for (var i = 0; i < n; i++)
        {
            int l = Lower(left[i]);
            int r = Lower(right[i]);
            if (l != r)
            {
                return l - r;
            }
        }

        return left.Length - right.Length;
    }

    private static byte Lower(byte c) => c is >= (byte)'A' and <= (byte)'Z' ? (byte)(c - 'A' + 'a') : c;

    private static bool Less(IReadOnlyList<ZipEntry> entries, int a, int b) => Compare(entries[a].RawName, entries[b].RawName) < 0;

    /// <summary>mz_zip_reader_sort_central_dir_offsets_by_filename: an in-place heap sort of the directory indices (not stable, so equal names end up in miniz's order).</summary>
    private static int[] SortLikeMiniz(IReadOnlyList<ZipEntry> entries)
    {
        var size = entries.Count;
        var indices = Enumerable.Range(0, size).ToArray();
        if (size <= 1)
        {
            return indices;
        }

        var start = (size - 2) >> 1;
        while (true)
        {
            SiftDown(entries, indices, start, size);
            if (start == 0)
            {
                break;
            }

            start--;
        }

        var end = size - 1;
        while (end > 0)
        {
            (indices[end], indices[0]) = (indices[0], indices[end]);
            SiftDown(entries, indices, 0, end);
            end--;
        }

        return indices;
    }

    private static void SiftDown(IReadOnlyList<ZipEntry> entries, int[] indices, int root, int end)
    {
        while (true)
        {
            var child = (root << 1) + 1;
            if (child >= end)
            {
                break;
            }

            if (child + 1 < end && Less(entries, indices[child], indices[child + 1]))
            {
                child++;
            }

            if (!Less(entries, indices[root], indices[child]))
            {
                break;
            }

            (indices[root], indices[child]) = (indices[child], indices[root]);
            root = child;
        }
    }
}
