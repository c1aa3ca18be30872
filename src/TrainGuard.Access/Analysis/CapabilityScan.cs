using System.Buffers.Binary;
using TrainGuard.Access.Accounts;
using TrainGuard.Access.Native;

namespace TrainGuard.Access.Analysis;

/// <summary>An executable whose file capabilities bypass file permissions, and who can run it.</summary>
public sealed record CapabilityExecutable(string Path, string Capabilities, IReadOnlyList<string> Runners);

/// <summary>
/// Finds executables in the usual bin folders of a root (not recursive, at most <see cref="MaxFilesPerFolder"/> each)
/// whose <c>security.capability</c> attribute permits CAP_CHOWN, CAP_DAC_OVERRIDE or CAP_FOWNER: whoever can run one
/// can write any file. The attribute is <c>struct vfs_cap_data</c>: a little-endian u32 <c>magic_etc</c> (revision in
/// the top byte: 1, 2 or 3) then permitted/inheritable u32 pairs.
/// </summary>
internal static class CapabilityScan
{
    public const string AttributeName = "security.capability";

    public const int MaxFilesPerFolder = 20_000;

    private static readonly string[] BinFolders = ["bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "usr/local/sbin"];

    private static readonly (int Bit, string Name)[] Bypassing = [(0, "cap_chown"), (1, "cap_dac_override"), (3, "cap_fowner")];

    private const int MagicOffset = 0;
    private const int PermittedOffset = 4;
    private const uint RevisionMask = 0xFF000000;

    public static List<CapabilityExecutable> Scan(string root, AccountDatabase accounts)
    {
        var found = new List<CapabilityExecutable>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var folder in BinFolders)
        {
            var host = Path.Combine(root, folder);
            if (!Directory.Exists(host) || !seen.Add(Path.GetFullPath(host)) || (UnixNative.TryLstat(host, out var dirNode) && dirNode.IsSymlink))
            {
                continue;
            }

            foreach (var file in Directory.EnumerateFiles(host).Take(MaxFilesPerFolder))
            {
                if (!UnixNative.TryLstat(file, out var node) || !node.IsRegular || UnixNative.GetAttribute(file, AttributeName) is not { } value)
                {
                    continue;
                }

                if (Bypasses(value) is { Length: > 0 } caps)
                {
                    found.Add(new CapabilityExecutable("/" + folder + "/" + Path.GetFileName(file), caps, Runners(node, accounts)));
                }
            }
        }

        return found;
    }

    /// <summary>The permission-bypassing capabilities a <c>vfs_cap_data</c> value permits, comma-separated ("" for none or malformed).</summary>
    public static string Bypasses(ReadOnlySpan<byte> value)
    {
        if (value.Length < PermittedOffset + 4)
        {
            return string.Empty;
        }

        var revision = BinaryPrimitives.ReadUInt32LittleEndian(value[MagicOffset..]) & RevisionMask;
        if (revision is not (0x01000000 or 0x02000000 or 0x03000000))
        {
            return string.Empty;
        }

        var permitted = BinaryPrimitives.ReadUInt32LittleEndian(value[PermittedOffset..]);
        return string.Join(',', Bypassing.Where(c => (permitted & (1u << c.Bit)) != 0).Select(c => c.Name));
    }

    private static List<string> Runners(FileNode node, AccountDatabase accounts)
    {
        if ((node.Mode & 1) != 0)
        {
            return [Writers.Anyone];
        }

        var runners = new List<string>();
        if ((node.Mode & 0x40) != 0 && node.Uid != 0)
        {
            runners.Add(accounts.UserName(node.Uid));
        }

        if ((node.Mode & 0x8) != 0)
        {
            runners.AddRange(accounts.Members(node.Gid));
        }

        return runners.Where(r => r != "root").Distinct().ToList();
    }
}
