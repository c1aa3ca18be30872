using TrainGuard.Access.Accounts;
using TrainGuard.Access.Acl;
using TrainGuard.Access.Native;

namespace TrainGuard.Access.Analysis;

/// <summary>
/// Who can change one file or folder by its permissions, the way the kernel decides (<c>getfacl</c> semantics): the
/// owner always (it can chmod), then with an access ACL the named users and groups and the owning group (each masked),
/// else the group bits; then the other bits. A folder's entries can be created, removed and renamed by whoever may
/// write and search it (w and x); a sticky folder limits that to the owners of the entries and of the folder. Root
/// is never listed (it always can). Results are cached by owner, group, mode and ACL: every file alike shares one.
/// </summary>
internal sealed class PermissionGrants(AccountDatabase accounts)
{
    private const int Write = 2;
    private const int WriteSearch = 3;

    private readonly Dictionary<(uint Uid, uint Gid, int Mode, bool Directory, string? Acl), Grant[]> _cache = [];

    /// <summary>The grants of a node; <paramref name="acl"/> is its raw <c>system.posix_acl_access</c> value or null.</summary>
    public Grant[] For(FileNode node, byte[]? acl, string where)
    {
        var key = (node.Uid, node.Gid, node.Mode, node.IsDirectory, acl is null ? null : Convert.ToHexString(acl));
        if (!_cache.TryGetValue(key, out var grants))
        {
            grants = Compute(node, acl is null ? null : PosixAcl.Parse(acl, where));
            _cache[key] = grants;
        }

        return grants;
    }

    private Grant[] Compute(FileNode node, PosixAcl? acl)
    {
        var needed = node.IsDirectory ? WriteSearch : Write;
        var grants = new List<Grant>();
        var owner = accounts.UserName(node.Uid);
        if (node.Uid != 0)
        {
            grants.Add(new Grant(owner, string.Empty, "owner of"));
        }

        var decided = new HashSet<string>(StringComparer.Ordinal) { owner, "root" };
        if (acl is null)
        {
            if (((node.Mode >> 3) & needed) == needed)
            {
                AddGroup(grants, decided, node.Gid, "g+w on");
            }

            if ((node.Mode & needed) == needed)
            {
                grants.Add(new Grant(Writers.Anyone, string.Empty, "o+w on"));
            }
        }
        else
        {
            foreach (var entry in acl.Entries.Where(e => e.Tag == AclTag.User))
            {
                var name = accounts.UserName(entry.Id);
                if (entry.Id != 0 && name != owner && (acl.Effective(entry) & needed) == needed)
                {
                    grants.Add(new Grant(name, string.Empty, $"ACL user:{AclName(name, entry.Id)}:{Rwx(acl.Effective(entry))} on"));
                }

                decided.Add(name);
            }

            foreach (var entry in acl.Entries.Where(e => e.Tag is AclTag.GroupObj or AclTag.Group))
            {
                var gid = entry.Tag == AclTag.GroupObj ? node.Gid : entry.Id;
                if ((acl.Effective(entry) & needed) == needed)
                {
                    var label = entry.Tag == AclTag.GroupObj ? "g+w" : $"group:{AclName(accounts.GroupName(gid), gid)}";
                    AddGroup(grants, decided, gid, $"ACL {label}:{Rwx(acl.Effective(entry))} on");
                }
            }

            if (acl.Entries.Any(e => e.Tag == AclTag.Other && (e.Permissions & needed) == needed))
            {
                grants.Add(new Grant(Writers.Anyone, string.Empty, "ACL other:" + Rwx(acl.Entries.First(e => e.Tag == AclTag.Other).Permissions) + " on"));
            }
        }

        if (node.IsDirectory && node.Sticky)
        {
            // o+t: others may add entries but replace only their own; the folder's owner keeps full control.
            grants.RemoveAll(g => g.Account != owner);
        }

        return grants.Distinct().ToArray();
    }

    private void AddGroup(List<Grant> grants, HashSet<string> decided, uint gid, string what)
    {
        var via = " via group " + accounts.GroupName(gid);
        foreach (var member in accounts.Members(gid))
        {
            if (!decided.Contains(member))
            {
                grants.Add(new Grant(member, via, what));
            }
        }
    }

    /// <summary>The name as getfacl writes it: the account's name, or the bare number when no etc file names it.</summary>
    private static string AclName(string name, uint id) =>
        name.StartsWith("uid ", StringComparison.Ordinal) || name.StartsWith("gid ", StringComparison.Ordinal) ? id.ToString(System.Globalization.CultureInfo.InvariantCulture) : name;

    private static string Rwx(int permissions) =>
        string.Concat((permissions & 4) != 0 ? "r" : "-", (permissions & 2) != 0 ? "w" : "-", (permissions & 1) != 0 ? "x" : "-");
}
