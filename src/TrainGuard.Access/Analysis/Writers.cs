using System.Runtime.InteropServices;

namespace TrainGuard.Access.Analysis;

/// <summary>
/// One way an account gets write access, without the path it applies to (shared by every file with the same owner,
/// group, mode and ACL): rendered as <c>{Account}{Via} ({What} {path})</c>, e.g.
/// <c>intern7 via group ml-shared (g+w on /opt/envs/torch/...)</c>.
/// </summary>
/// <param name="Account">A user name, or <see cref="Writers.Anyone"/>.</param>
public readonly record struct Grant(string Account, string Via, string What)
{
    public string Render(string path) => $"{Writers.Display(Account)}{Via} ({What} {path})";
}

/// <summary>Who can modify one asset: each account with the reasons found (the first path of each kind of grant).</summary>
public sealed class AssetWriters(string asset)
{
    /// <summary>At most this many reasons are kept per account; the rest are counted.</summary>
    public const int MaxReasonsPerAccount = 4;

    private readonly Dictionary<string, Dictionary<(string Via, string What), (string Path, int Count)>> _byAccount = new(StringComparer.Ordinal);

    /// <summary>The asset as the policy names it (a path from the root, e.g. <c>/opt/envs/torch</c>).</summary>
    public string Asset { get; } = asset;

    /// <summary>Files and folders examined (the asset's tree, not the path above it).</summary>
    public long Entries { get; internal set; }

    /// <summary>Accounts that can modify the asset (<see cref="Writers.Anyone"/> for every account), sorted.</summary>
    public IEnumerable<string> Accounts => _byAccount.Keys.Order(StringComparer.Ordinal);

    public bool Contains(string account) => _byAccount.ContainsKey(account);

    /// <summary>The reasons of one account, e.g. <c>intern7 via group ml-shared (g+w on /opt/x) and 311 more paths</c>.</summary>
    public IReadOnlyList<string> Reasons(string account) =>
        _byAccount.TryGetValue(account, out var grants)
            ? grants.Select(pair => new Grant(account, pair.Key.Via, pair.Key.What).Render(pair.Value.Path) + (pair.Value.Count > 1 ? $" and {pair.Value.Count - 1} more path(s)" : string.Empty)).ToList()
            : [];

    internal void Add(Grant grant, string path)
    {
        if (!_byAccount.TryGetValue(grant.Account, out var grants))
        {
            grants = [];
            _byAccount[grant.Account] = grants;
        }

        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(grants, (grant.Via, grant.What), out var exists);
        if (exists)
        {
            slot.Count++;
        }
        else if (grants.Count <= MaxReasonsPerAccount)
        {
            slot = (path, 1);
        }
        else
        {
            grants.Remove((grant.Via, grant.What));
        }
    }
}

public static class Writers
{
    /// <summary>The account name standing for every account on the node (world-writable, sudo ALL...).</summary>
    public const string Anyone = "*";

    public static string Display(string account) => account == Anyone ? "any account" : account;
}
