using TrainGuard.Access.Accounts;
using TrainGuard.Access.Acl;
using TrainGuard.Access.Native;
using TrainGuard.Access.Sudo;
using TrainGuard.Parsing;

namespace TrainGuard.Access.Analysis;

/// <summary>
/// Computes who can modify assets under a root (a folder standing for <c>/</c>): for each asset, the writers of every
/// folder on the path to it (a writable parent means the asset can be replaced), of the asset itself and, for a
/// folder, of everything inside it; then the accounts sudo lets write as one of those writers (or as root), and
/// whoever can run an executable whose capabilities bypass permissions. Symbolic links inside an asset are not
/// followed (their folder's writers are counted). Each folder is examined once per run.
/// </summary>
public sealed class AccessAnalyzer
{
    /// <summary>Most entries examined under one asset before it is reported as over the limit.</summary>
    public const long DefaultMaxEntries = 2_000_000;

    private readonly string _root;
    private readonly PermissionGrants _grants;
    private readonly Dictionary<string, Grant[]> _pathGrants = new(StringComparer.Ordinal);

    public AccessAnalyzer(string root, long maxEntries = DefaultMaxEntries)
    {
        _root = Path.GetFullPath(root);
        MaxEntries = maxEntries;
        Accounts = AccountDatabase.Load(_root);
        _grants = new PermissionGrants(Accounts);
        Sudo = SudoersReader.Read(_root, Accounts);
        Capabilities = CapabilityScan.Scan(_root, Accounts);
    }

    public long MaxEntries { get; }

    /// <summary>Most symbolic links followed on the way to one asset (the kernel's own limit is 40).</summary>
    public const int MaxSymlinks = 40;

    public AccountDatabase Accounts { get; }

    public SudoRules Sudo { get; }

    public IReadOnlyList<CapabilityExecutable> Capabilities { get; }

    /// <summary>
    /// The folder on this machine that stands for <paramref name="path"/> (an absolute path on the node whose symbolic
    /// links, if any, were resolved with <see cref="Resolve"/>).
    /// </summary>
    public string HostPath(string path) => Path.Combine(_root, path.TrimStart('/'));

    /// <summary>Who can modify the asset at <paramref name="path"/> (absolute, as on the node).</summary>
    /// <exception cref="FileNotFoundException">Nothing is there.</exception>
    /// <exception cref="MalformedInputException">An ACL that cannot be read, or more entries than <see cref="MaxEntries"/>.</exception>
    public AssetWriters Analyze(string path, CancellationToken cancellationToken = default)
    {
        var asset = Normalize(path);
        var writers = new AssetWriters(asset);
        var linkFolders = new List<string>();
        var real = Resolve(asset, linkFolders);
        if (!UnixNative.TryLstat(HostPath(real), out var node))
        {
            throw new FileNotFoundException($"{asset}: not found under {_root}");
        }

        // Every folder above (and every folder holding a symbolic link on the way): whoever may change its entries
        // can replace the whole asset.
        AddFolders(real, includeSelf: false, writers);
        foreach (var folder in linkFolders)
        {
            AddFolders(folder, includeSelf: true, writers);
        }

        if (node.IsDirectory)
        {
            WalkTree(real, node, writers, cancellationToken);
        }
        else
        {
            AddNode(real, node, writers);
            writers.Entries = 1;
        }

        AddSudo(writers);
        AddCapabilities(writers);
        return writers;
    }

    /// <summary>
    /// The path with every symbolic link on it resolved inside the root (an absolute target starts again at the root),
    /// as the kernel would resolve it on the node; the folders holding the links are added to <paramref name="linkFolders"/>.
    /// </summary>
    internal string Resolve(string asset, List<string> linkFolders)
    {
        var pending = new LinkedList<string>(asset.Split('/', StringSplitOptions.RemoveEmptyEntries));
        var resolved = new List<string>();
        var links = 0;
        while (pending.First is { } first)
        {
            pending.RemoveFirst();
            var part = first.Value;
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (resolved.Count > 0)
                {
                    resolved.RemoveAt(resolved.Count - 1);
                }

                continue;
            }

            var candidate = "/" + string.Join('/', resolved.Append(part));
            if (!UnixNative.TryLstat(HostPath(candidate), out var node) || !node.IsSymlink)
            {
                resolved.Add(part);
                continue;
            }

            if (++links > MaxSymlinks)
            {
                throw MalformedInputException.Create(InputErrorKind.OverLimit, $"{asset}: more than {MaxSymlinks} symbolic links on the path");
            }

            linkFolders.Add("/" + string.Join('/', resolved));
            var target = new FileInfo(HostPath(candidate)).LinkTarget ?? string.Empty;
            if (target.StartsWith('/'))
            {
                resolved.Clear();
            }

            foreach (var piece in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse())
            {
                pending.AddFirst(piece);
            }
        }

        return "/" + string.Join('/', resolved);
    }

    private void AddFolders(string path, bool includeSelf, AssetWriters writers)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var depth = 0; depth < parts.Length + (includeSelf ? 1 : 0); depth++)
        {
            var folder = "/" + string.Join('/', parts.Take(depth));
            foreach (var grant in PathGrants(folder))
            {
                writers.Add(grant, folder);
            }
        }
    }

    private static string Normalize(string path)
    {
        var parts = path.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p != ".").ToList();
        if (parts.Contains(".."))
        {
            throw MalformedInputException.Create(InputErrorKind.Config, $"{path}: '..' is not allowed in an asset path");
        }

        return "/" + string.Join('/', parts);
    }

    private Grant[] PathGrants(string folder)
    {
        if (!_pathGrants.TryGetValue(folder, out var grants))
        {
            var host = HostPath(folder);
            grants = UnixNative.TryLstat(host, out var node) && !node.IsSymlink ? _grants.For(node, Acl(host, node), folder) : [];
            _pathGrants[folder] = grants;
        }

        return grants;
    }

    private void AddNode(string shown, FileNode node, AssetWriters writers)
    {
        var host = HostPath(shown);
        foreach (var grant in _grants.For(node, Acl(host, node), shown))
        {
            writers.Add(grant, shown);
        }
    }

    private static byte[]? Acl(string host, FileNode node) =>
        node.IsSymlink ? null : UnixNative.GetAttribute(host, PosixAcl.AttributeName);

    private void WalkTree(string asset, FileNode top, AssetWriters writers, CancellationToken cancellationToken)
    {
        var pending = new Stack<(string Shown, FileNode Node)>();
        pending.Push((asset, top));
        long entries = 0;
        while (pending.TryPop(out var item))
        {
            cancellationToken.ThrowIfCancellationRequested();
            AddNode(item.Shown, item.Node, writers);
            entries++;
            var host = HostPath(item.Shown);
            foreach (var child in Directory.EnumerateFileSystemEntries(host))
            {
                if (++entries > MaxEntries)
                {
                    throw MalformedInputException.Create(InputErrorKind.OverLimit, $"{asset}: more than {MaxEntries:N0} entries");
                }

                if (!UnixNative.TryLstat(child, out var node))
                {
                    continue;
                }

                var shown = item.Shown.TrimEnd('/') + "/" + Path.GetFileName(child);
                if (node.IsDirectory)
                {
                    pending.Push((shown, node));
                    entries--;
                }
                else if (!node.IsSymlink)
                {
                    AddNode(shown, node, writers);
                }
            }
        }

        writers.Entries = entries;
    }

    private void AddSudo(AssetWriters writers)
    {
        var direct = writers.Accounts.Where(a => a != Writers.Anyone).ToHashSet(StringComparer.Ordinal);
        foreach (var grant in Sudo.Grants)
        {
            var target = grant.AsRoot ? "root" : grant.RunAs.FirstOrDefault(direct.Contains);
            if (target is null || grant.Account == "root")
            {
                continue;
            }

            var via = grant.Via is null ? " via sudo" : $" via {grant.Via} and sudo";
            writers.Add(new Grant(grant.Account, via, $"may run {grant.Command} as {target}:"), grant.Source);
        }
    }

    private void AddCapabilities(AssetWriters writers)
    {
        foreach (var executable in Capabilities)
        {
            foreach (var runner in executable.Runners)
            {
                writers.Add(new Grant(runner, " via " + executable.Path, $"{executable.Capabilities} on"), executable.Path);
            }
        }
    }
}
