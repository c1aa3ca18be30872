using System.Buffers.Binary;
using TrainGuard.Parsing;

namespace TrainGuard.Access.Acl;

/// <summary>The tag of a POSIX ACL entry (linux/posix_acl.h).</summary>
public enum AclTag : ushort
{
    UserObj = 0x01,
    User = 0x02,
    GroupObj = 0x04,
    Group = 0x08,
    Mask = 0x10,
    Other = 0x20,
}

/// <summary>One entry: a tag, its permission bits (r 4, w 2, x 1) and, for named users and groups, the id.</summary>
public readonly record struct AclEntry(AclTag Tag, int Permissions, uint Id)
{
    public bool CanWrite => (Permissions & 2) != 0;
}

/// <summary>
/// A POSIX access ACL as the kernel stores it in the <c>system.posix_acl_access</c> extended attribute: a 4-byte
/// little-endian version (2) then 8-byte entries (u16 tag, u16 permissions, u32 id). Only the access ACL decides
/// access; a directory's default ACL (<c>system.posix_acl_default</c>) is what new entries inherit, never effective.
/// </summary>
public sealed class PosixAcl
{
    public const string AttributeName = "system.posix_acl_access";

    private const int HeaderSize = 4;
    private const int EntrySize = 8;
    private const uint Version = 2;
    private const int TagOffset = 0;
    private const int PermOffset = 2;
    private const int IdOffset = 4;

    private PosixAcl(IReadOnlyList<AclEntry> entries, int? mask)
    {
        Entries = entries;
        Mask = mask;
    }

    public IReadOnlyList<AclEntry> Entries { get; }

    /// <summary>The mask entry's permissions (the upper bound of named entries and the owning group), when there is one.</summary>
    public int? Mask { get; }

    /// <summary>Named user and named group entries: the only ones that add writers beyond the mode bits.</summary>
    public IEnumerable<AclEntry> Named => Entries.Where(e => e.Tag is AclTag.User or AclTag.Group);

    /// <summary>Parses the attribute value; <paramref name="source"/> names the file in errors.</summary>
    /// <exception cref="MalformedInputException">Not a version 2 ACL, a size that is not header + n entries, or an unknown tag.</exception>
    public static PosixAcl Parse(ReadOnlySpan<byte> value, string source)
    {
        if (value.Length < HeaderSize)
        {
            Throw(source, 0, $"ACL attribute of {value.Length} bytes is shorter than its {HeaderSize}-byte header");
        }

        var version = BinaryPrimitives.ReadUInt32LittleEndian(value);
        if (version != Version)
        {
            Throw(source, 0, $"ACL version {version} (expected {Version})");
        }

        if ((value.Length - HeaderSize) % EntrySize != 0)
        {
            Throw(source, HeaderSize, $"ACL attribute of {value.Length} bytes is not a header and whole {EntrySize}-byte entries");
        }

        var entries = new List<AclEntry>((value.Length - HeaderSize) / EntrySize);
        int? mask = null;
        for (var offset = HeaderSize; offset < value.Length; offset += EntrySize)
        {
            var entry = value.Slice(offset, EntrySize);
            var tag = BinaryPrimitives.ReadUInt16LittleEndian(entry[TagOffset..]);
            var perm = BinaryPrimitives.ReadUInt16LittleEndian(entry[PermOffset..]);
            var id = BinaryPrimitives.ReadUInt32LittleEndian(entry[IdOffset..]);
            if (!Enum.IsDefined((AclTag)tag))
            {
                Throw(source, offset, $"unknown ACL entry tag 0x{tag:x}");
            }

            if (perm > 7)
            {
                Throw(source, offset + PermOffset, $"ACL permissions 0x{perm:x} outside rwx");
            }

            if ((AclTag)tag == AclTag.Mask)
            {
                mask = perm;
            }

            entries.Add(new AclEntry((AclTag)tag, perm, id));
        }

        return new PosixAcl(entries, mask);
    }

    /// <summary>Permissions of an entry after the mask (named entries and the owning group are masked; owner and other are not).</summary>
    public int Effective(AclEntry entry) =>
        entry.Tag is AclTag.User or AclTag.Group or AclTag.GroupObj && Mask is { } m ? entry.Permissions & m : entry.Permissions;

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Throw(string source, long offset, string problem) =>
        throw MalformedInputException.Create(InputErrorKind.Syntax, $"{source}: {problem}", offset);
}
